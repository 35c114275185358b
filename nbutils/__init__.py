"""nbutils: the helpers behind the notebooks — data, encoders, regrouping, losses, samplers,
models, the training loop, metrics, class activation maps, plots and the papermill runner."""
__version__ = "0.1.0"
