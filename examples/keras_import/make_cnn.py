"""Train the small Keras CNN that examples/keras_import/ imports (needs tf_keras, which kgraph does not).

    /work/tfvenv/bin/python examples/keras_import/make_cnn.py

writes cnn.keras (a 64-pixel digit in, 10 class probabilities out, trained for 15 epochs on
examples/digits/digits.npz) and keras_predictions.npz: `model.predict` on the first 20 test
images, and Keras's test accuracy, for the tests to compare the imported program against.
"""
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tf_keras as keras  # noqa: E402
from tf_keras import layers as L  # noqa: E402

HERE = Path(__file__).resolve().parent

keras.utils.set_random_seed(0)
with np.load(HERE.parent / "digits" / "digits.npz") as d:
    x_train, y_train, x_test, y_test = (d[k] for k in ("x_train", "y_train", "x_test", "y_test"))
model = keras.Sequential([
    L.Input((64,), name="pixels"),
    L.Rescaling(1 / 16, name="scale"),
    L.Reshape((8, 8, 1), name="image"),
    L.Conv2D(8, 3, padding="same", activation="relu", name="conv_1"),
    L.BatchNormalization(name="norm_1"),
    L.MaxPooling2D(2, name="pool_1"),
    L.Conv2D(16, 3, activation="relu", name="conv_2"),
    L.GlobalAveragePooling2D(name="average"),
    L.Dropout(0.2, name="dropout"),
    L.Dense(10, activation="softmax", name="digit"),
], name="digits_cnn")
model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
model.fit(x_train.astype(np.float32), y_train, epochs=15, batch_size=32, verbose=0)
_, accuracy = model.evaluate(x_test.astype(np.float32), y_test, verbose=0)
model.save(HERE / "cnn.keras")
np.savez(HERE / "keras_predictions.npz", pixels=x_test[:20],
         digit=model.predict(x_test[:20].astype(np.float32), verbose=0), accuracy=np.float32(accuracy))
print(f"test accuracy {accuracy:.4f}")
