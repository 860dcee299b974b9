"""One module per `kgraph` subcommand."""
