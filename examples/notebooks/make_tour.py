"""Writes tour.ipynb, the seed tour of the Keras backend as a notebook (run: python make_tour.py).

One cell per op, each after a sentence on what it shows. tests/test_notebook.py runs the
notebook through a real kernel and checks its outputs, so edit this file, not the .ipynb.
"""
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

CELLS = [
    ("md", "# A tour of the Keras backend in kgraph\n\n"
           "Each cell below is a small `.kg` program, compiled and run by the `%%kgraph` cell "
           "magic. Placeholders are fed from the notebook variables of the same name, and the "
           "outputs show as a table of dtype, shape and value."),
    ("code", "%load_ext kgraph\nimport numpy as np\nfrom kgraph import backend as K"),
    ("md", "**placeholder**: an input fed at run time. `None` is a dimension known only then, "
           "so any batch size works. Here `x` comes from the notebook variable `x`."),
    ("code", "x = np.arange(8, dtype=np.float32).reshape(2, 4)"),
    ("code", "%%kgraph\nplaceholder x: float32[None, 4]\noutput x * 2"),
    ("md", "**variable**: a value the program keeps, with an initial value known at compile time."),
    ("code", "%%kgraph\nvariable W = random_normal_variable((4, 3), mean=0.0, scale=0.1, seed=0)\noutput W"),
    ("md", "**dot**: NumPy's rule, the last axis of the first against the second-to-last of the "
           "second: (2, 4) · (4, 3) → (2, 3)."),
    ("code", "%%kgraph\nplaceholder x: float32[None, 4]\noutput dot(x, ones((4, 3)))"),
    ("md", "**transpose** reverses all the axes."),
    ("code", "%%kgraph\nplaceholder x: float32[None, 4]\noutput transpose(x)"),
    ("md", "**sum** adds over all axes by default, or over `axis`, keeping it with `keepdims`."),
    ("code", "%%kgraph\nplaceholder x: float32[None, 4]\noutput sum(x), sum(x, axis=1, keepdims=True)"),
    ("md", "**softmax** turns each row into probabilities that sum to 1."),
    ("code", "%%kgraph\np = softmax([[1.0, 2.0, 3.0]])\noutput p, sum(p)"),
    ("md", "**concatenate** joins a list of tensors along an axis (the last by default)."),
    ("code", "%%kgraph\noutput concatenate([ones((2, 1)), zeros((2, 2))])"),
    ("md", "**floatx** is the default float type, `float32` unless set (`--floatx` on the "
           "magic line, as on the command line). It is known at compile time, so it can "
           "name a dtype."),
    ("code", "%%kgraph --floatx float64\noutput cast([1, 2], floatx()), ones((2,))"),
    ("md", "**cast_to_floatx** casts to that type: integers become floats."),
    ("code", "%%kgraph\noutput cast_to_floatx([1, 2, 3])"),
    ("md", "**eye** makes an identity matrix."),
    ("code", "%%kgraph\noutput eye(3)"),
    ("md", "**count_params** counts the elements of a tensor, at compile time."),
    ("code", "%%kgraph\nvariable W = zeros((4, 3))\noutput count_params(W)"),
    ("md", "**tile** repeats a whole tensor along each axis."),
    ("code", "%%kgraph\noutput tile([[1, 2]], (2, 3))"),
    ("md", "**stack** puts tensors of one shape along a new axis."),
    ("code", "%%kgraph\noutput stack([[1, 2], [3, 4]], axis=1)"),
    ("md", "**repeat_elements** repeats each element `rep` times along an axis."),
    ("code", "%%kgraph\noutput repeat_elements([[1, 2], [3, 4]], 2, axis=1)"),
    ("md", "**get_value** reads a variable's current value; in Python, `kgraph.backend` is a "
           "drop-in for `keras.backend`."),
    ("code", "v = K.variable([[1.0, 2.0], [3.0, 4.0]])\nK.get_value(v)"),
    ("md", "**print_tensor** returns its input and prints it whenever the compiled program runs."),
    ("code", "%%kgraph\nplaceholder x: float32[None, 4]\ny = print_tensor(sum(x, axis=1), message='row sums: ')\noutput y"),
    ("md", "**categorical_crossentropy**: when its output argument is a softmax, Keras computes "
           "the loss from the logits underneath, and so does kgraph."),
    ("code", "%%kgraph\nlogits = [[2.0, 1.0, 0.1]]\nloss = categorical_crossentropy([[1.0, 0.0, 0.0]], softmax(logits))\noutput loss"),
    ("md", "**gradients** differentiates the sum of a loss against a list of tensors."),
    ("code", "%%kgraph\nvariable W = ones((4, 3))\nplaceholder x: float32[None, 4]\n"
             "loss = mean(square(dot(x, W)))\ndW, = gradients(loss, [W])\noutput loss, dW"),
    ("md", "`--feed NAME=VALUE` on the magic line feeds a placeholder as `kgraph run --feed` "
           "does, from a literal or a file, instead of the notebook variable."),
    ("code", "%%kgraph --feed x='[[1, 2, 3, 4]]'\nplaceholder x: float32[None, 4]\noutput sum(x)"),
    ("md", "`%kgraph_ops NAME` shows any op's documentation, and runs its example."),
    ("code", "%kgraph_ops repeat_elements"),
    ("md", "## A program, displayed\n\n`--name` keeps the compiled program, and `--no-run` "
           "compiles without running. A program shows its placeholders, variables and outputs "
           "with their types, and draws its graph."),
    ("code", "%%kgraph --name logreg --no-run\nplaceholder x: float32[None, 4]\nplaceholder y: float32[None, 3]\n"
             "variable W = random_normal_variable((4, 3), mean=0.0, scale=0.1, seed=0)\nvariable b = zeros((3,))\n"
             "p = softmax(dot(x, W) + b)\nloss = mean(categorical_crossentropy(y, p))\n"
             "update W = W - 0.5 * gradients(loss, [W])[0]\noutput loss\n"),
    ("md", "## Mistakes\n\nA mistake shows where it is, with the line and a caret, not a Python "
           "traceback."),
    ("code-raises", "%%kgraph\nplaceholder x: float32[None, 4]\nW = ones((5, 3))\noutput dot(x, W)"),
    ("md", "## Training you can watch\n\nThe training loop shows a live progress bar, and a curve "
           "of the scalar outputs that is redrawn at the end of each epoch."),
    ("code", "from kgraph.train import Batches, Plan, train\n"
             "rng = np.random.default_rng(0)\n"
             "x_train = rng.normal(size=(256, 4)).astype(np.float32)\n"
             "y_train = np.eye(3, dtype=np.float32)[(x_train[:, 0] > 0).astype(int) + (x_train[:, 1] > 0)]\n"
             "batches = Batches(logreg, logreg.check_feeds({'x': x_train, 'y': y_train}), 32, shuffle=True)\n"
             "result = train(logreg, batches, Plan(steps=10 * batches.per_epoch, per_epoch=batches.per_epoch))\n"
             "result.steps"),
]


def notebook():
    nb = new_notebook()
    for kind, text in CELLS:
        if kind == "md":
            nb.cells.append(new_markdown_cell(text))
        else:
            cell = new_code_cell(text)
            if kind == "code-raises":
                cell.metadata["tags"] = ["raises-exception"]
            nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


if __name__ == "__main__":
    nbformat.write(notebook(), Path(__file__).with_name("tour.ipynb"))
