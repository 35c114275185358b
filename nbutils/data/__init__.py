"""Images and tasks: the data sets by name (``datasets.DATASETS``), their readers (``readers`` for
the offline and torchvision formats, ``medical`` for the folders users bring), images as uint8
tensors (``imagesets``) and the tasks built from a spec (``tasks``: one-vs-rest, imbalance ratio,
class profile, train/val/test split).

May import ``nbutils.core`` only.
"""
from nbutils.data.datasets import DATASETS, DataSet
from nbutils.data.imagesets import ImageSet, Task, TrainingSet
from nbutils.data.tasks import make_task, make_tasks

__all__ = ["DATASETS", "DataSet", "ImageSet", "Task", "TrainingSet", "make_task", "make_tasks"]
