"""The classic Keras-backend exploration, run on kgraph.

This is the tour of the Keras 2 documentation's backend page and of the examples in
the backend's docstrings. Against the TensorFlow original, only the import line
changed (it was `from keras import backend as K`) and TensorFlow session calls were
removed. Run it: `python examples/backend_tour.py`. (The same tour as a .kg program
is examples/backend_tour.kg.)
"""
import numpy as np

from kgraph import backend as K

# ---- placeholders: inputs fed when a function runs ------------------------------
inputs = K.placeholder(shape=(2, 4, 5))
print(inputs)
inputs = K.placeholder(shape=(None, 4, 5))
print(inputs)
inputs = K.placeholder(ndim=3)
print(inputs, K.int_shape(inputs))

# ---- variables -------------------------------------------------------------------
val = np.random.random((3, 4, 5))
var = K.variable(value=val)
print(var, K.dtype(var))

# all-zeros / all-ones variables
var_zeros = K.zeros(shape=(3, 4, 5))
var_ones = K.ones(shape=(3, 4, 5))

# ---- variables initialised with random numbers -------------------------------------
b = K.random_uniform_variable(shape=(3, 4), low=0, high=1)  # uniform distribution
c = K.random_normal_variable(shape=(3, 4), mean=0, scale=1)  # Gaussian distribution
d = K.random_normal_variable(shape=(3, 4), mean=0, scale=1)

# ---- tensor arithmetic --------------------------------------------------------------
a = b + c * K.abs(d)
ab = K.dot(a, K.transpose(b))
row_sums = K.sum(b, axis=1)
probs = K.softmax(b)
joined = K.concatenate([b, ab], axis=-1)
print(a, ab, row_sums, probs, joined, sep="\n")
print("a =", K.eval(a), sep="\n")
print("dot(a, transpose(b)) =", K.eval(ab), sep="\n")
print("sum(b, axis=1) =", K.eval(row_sums))
print("softmax(b) =", K.eval(probs), sep="\n")
print("concatenate([b, ab]) has shape", K.int_shape(joined))

# ---- dtypes ----------------------------------------------------------------------------
arr = np.array([1.0, 2.0], dtype=np.float64)
print(arr.dtype)
new_arr = K.cast_to_floatx(arr)
print(new_arr, new_arr.dtype)

kvar = K.variable(np.array([[1, 2], [3, 4]]), dtype="float64", name="example_var")
print(K.dtype(kvar), kvar)
kvar_dot = K.dot(kvar, kvar)
print(kvar_dot, K.eval(kvar_dot), sep="\n")

# ---- constants, eye and count_params -------------------------------------------------
const = K.constant([[1, 2], [3, 4]])
print(const, K.eval(const), sep="\n")
kvar_eye = K.eye(3)
print(K.eval(kvar_eye))
kvar_zeros = K.zeros((2, 3))
n_params = K.count_params(kvar_zeros)
print(n_params)

# ---- tile, stack and repeat_elements ---------------------------------------------------
tiled = K.tile(kvar_eye, (2, 1))
stacked = K.stack([b, d])
repeated = K.repeat_elements(kvar, 2, axis=1)
print(K.int_shape(tiled), K.int_shape(stacked), K.int_shape(repeated))
print(K.eval(repeated))

# ---- get_value, and print_tensor (it prints when the graph runs) --------------------
print(K.get_value(kvar))
shown = K.print_tensor(row_sums, message="row_sums = ")
print(K.eval(shown))

# ---- a loss and its gradients ------------------------------------------------------------
target = K.variable([[0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [1.0, 0.0, 0.0, 0.0]])
output = K.softmax(a)
loss = K.mean(K.categorical_crossentropy(target, output))
grads = K.gradients(loss, [b, c])
print("loss =", K.eval(loss))
print("d loss / d b =", K.eval(grads[0]), sep="\n")
print("d loss / d c =", K.eval(grads[1]), sep="\n")

# ---- a function of a placeholder ---------------------------------------------------------
x = K.placeholder(shape=(None, 4))
f = K.function([x], [K.dot(x, K.transpose(b))])
scores = f([np.ones((2, 4))])[0]
print(scores)
