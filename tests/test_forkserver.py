"""tests/forkserver.py: its children behave as fresh processes in what the tests read of them."""
import os
import signal

from forkserver import run_kgraph, run_script, start_kgraph


def test_exit_statuses_are_a_processs():
    assert run_script("pass")[0] == 0
    assert run_script("raise SystemExit(3)")[0] == 3
    code, _, err = run_script("raise ValueError('boom')")
    assert code == 1 and "Traceback" in err and "ValueError: boom" in err
    code, out, err = run_kgraph("nonsense")
    assert code == 2 and out == "" and "invalid choice: 'nonsense'" in err


def test_arguments_directory_environment_and_input_are_the_childs(tmp_path):
    script = "import os, sys; print(sys.argv[1:], os.getcwd(), os.environ.get('KG_CHILD'), sys.stdin.read())"
    code, out, _ = run_script(script, "a", 2, cwd=tmp_path, env={"KG_CHILD": "yes"})
    assert (code, out) == (0, f"['a', '2'] {tmp_path} yes \n")
    code, out, _ = run_kgraph("repl", stdin="1 + 1\n")
    assert (code, out) == (0, "2\n")  # the input reached the REPL


def test_each_child_starts_its_own_jax_backend(tmp_path):
    script = "import jax; print(jax.device_count())"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4")
    assert run_script(script, env=env)[1] == "4\n"  # read at the backend's start, which is the child's
    assert run_script(script)[1] == "1\n"


def test_output_is_read_as_it_comes_and_a_signal_ends_the_child(tmp_path):
    (tmp_path / "count.kg").write_text("variable n = 0.0\nupdate n = n + 1.0\noutput n\n")
    child = start_kgraph("run", tmp_path / "count.kg", "--steps", 10**9, "--log-every", 10)
    try:
        assert child.stderr.readline().startswith("step 10/")  # while it runs
        child.send_signal(signal.SIGKILL)
        child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == -signal.SIGKILL


def test_the_server_forks_from_a_single_thread():
    """fork() copies only the thread that calls it: a second thread in the server (one that
    importing kgraph.cli had started) could leave a child holding a lock no one releases."""
    script = "import os\nprint([l for l in open(f'/proc/{os.getppid()}/status') if l.startswith('Threads:')])"
    assert run_script(script)[1] == "['Threads:\\t1\\n']\n"
