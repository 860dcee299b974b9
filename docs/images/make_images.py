"""Makes the pictures of docs/notebooks.md (run from the repository root:
python docs/images/make_images.py). Needs matplotlib (pip install 'kgraph[plot]')."""
import subprocess
import sys
import tempfile
from pathlib import Path

from kgraph.metrics import metric_names, read_metrics
from kgraph.training_view import curve_svg

HERE = Path(__file__).parent
DIGITS = "examples/digits/digits.npz"

with tempfile.TemporaryDirectory() as tmp:
    log = Path(tmp) / "metrics.csv"
    kgraph = [sys.executable, "-m", "kgraph"]
    subprocess.run(kgraph + ["run", "examples/digits/train.kg", "--feed", f"x={DIGITS}:x_train",
                             "--feed", f"y={DIGITS}:y_train", "--batch-size", "32", "--shuffle",
                             "--epochs", "5", "--log", str(log), "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(kgraph + ["plot", str(log), "-o", str(HERE / "digits_loss.png")], check=True)
    rows = read_metrics(log)
    per_epoch = sum(1 for r in rows if r["epoch"] == 1)
    points = [(int(r["step"]), {n: r[n] for n in metric_names(rows)})
              for r in rows if r["step"] % per_epoch == 0]
    # The notebook's live view draws one panel per output; the picture keeps the loss's.
    panel = curve_svg(points).removeprefix("<div>").split("</svg>")[0] + "</svg>\n"
    (HERE / "live_curve.svg").write_text(panel)
