"""The search's space: the named layer stacks (candidates under 3,500 parameters, the frontier up to Model_6's
7,442, the stacks up to the course's 8,000), the base recipe and the changes tried on it, and the grid of stacks
with recipe changes. Tables only; tools/search.py runs them. Each comment says why its entries were tried."""

from __future__ import annotations

import model as model_lib
from utils.config import run_name
from utils.course import S7_SMALLEST
from utils.paths import DEFAULT_RESULTS_DIR, REPO

RECIPE_OF = "Model_7"  # the recipe every candidate starts from (Model_6's, at Model_7's size)
PARAM_RANGE = (2000, S7_SMALLEST.max_params)  # the candidates: below our Session 7 bar of parameters
TEACHER_FILE = f"{run_name('S6_Model', 1, 'teacher')}.json"  # the teacher stage: distillation's teacher, in results/val

# name -> layer stack (model.TinyNet tokens, and tools/search_blocks.py's). One-pool stacks like Model_7's; two
# pools; padded; where the 1x1 transition sits; depthwise-separable convolutions in some or all layers.
CANDIDATES: dict[str, str] = {
    "m7": "6 12 M D t6 10 10 11",  # Model_7 itself: the calibration point
    "m7-t-before-pool": "6 12 t6 M D 10 10 11",  # the transition before the pool
    "deep-narrow": "4 8 M D t6 8 8 8 10",  # one more, narrower layer after the pool
    "three-before-pool": "4 6 8 M D t6 10 10 12",  # three convolutions at full resolution
    "no-transition": "6 10 M D 10 10 10",  # no 1x1 transition at all
    "two-pools": "6 8 M D t6 p8 p8 M p10 p10",  # a second pool; padded after the first
    "two-pools-padded": "p4 p6 M D p8 p10 M p10 p10",  # every convolution padded
    "two-pools-padded-t": "p6 p8 M D t6 p8 p8 M p10 p10",
    "one-before-pool": "8 M D p8 p8 M p10 p10",  # a single convolution at full resolution
    "sep4x16": "8 12 M D t8 s16 s16 s16 s16",  # separable after the pool
    "sep5x16": "8 12 M D t8 s16 s16 s16 s16 s16",  # ... one more, receptive field 26
    "sep5x16-no-t": "8 12 M D s16 s16 s16 s16 s16",  # ... without the transition
    "sep-all": "8 s12 M D t8 s16 s16 s16 s16 s16",  # separable before the pool too
    "sep-all-wide": "8 s16 M D t8 s20 s20 s20 s20",
    "sep3x20": "8 12 M D t8 s20 s20 s20",  # fewer, wider separable layers
    "sep3x24": "8 12 M D t8 s24 s24 s24",
    "mixed-1full": "6 12 M D t6 10 s16 s16 s16 s16",  # one full convolution after the pool, then separable
    "mixed-2full": "6 12 M D t6 10 10 s16 s16",
    "sep5x12-small": "6 10 M D t6 s12 s12 s12 s12 s12",  # the smallest: about 2,100 parameters
    "sep-three-before-pool": "6 10 12 M D t6 s16 s16 s16 s16",
    "sep-two-pools": "p8 s12 M D ps16 ps16 M ps20 ps20 ps20",  # separable, two pools, receptive field 40
    "sep-two-pools-t": "8 12 M D t8 ps16 ps16 M ps16 ps20",
    "sep5x16-t6": "6 12 M D t6 s16 s16 s16 s16 s16",
    # Model_7's shape with its parameters moved: a wider first convolution, or fewer and wider layers after the pool
    "m7-w8-10": "8 10 M D t6 10 10 10",
    "m7-w8-8": "8 8 M D t8 10 10 10",
    "m7-wide3": "8 12 M D t8 12 12",
    # Model_7's stack with a linear 1x1 transition: no ReLU on its 6 channels (MobileNetV2's linear bottleneck)
    "m7-linear-t": "6 12 M D l6 10 10 11",
    # Coordinate channels (CoordConv): at the input (the last convolution one channel narrower to pay for them),
    # or after the pool, where the transition mixes them in for 12 parameters
    "coords-in": "C 6 12 M D t6 10 10 10",
    "coords-pool": "6 12 M D C t6 10 10 11",
    # 3x3 convolutions factorized into 3x1 and 1x3 after the pool: 12 channels instead of 10-11, twice the depth
    "fact3x12": "6 12 M D t6 f12 f12 f12",
    "fact4x10": "6 10 M D t6 f10 f10 f10 f10",  # ... or four of 10 channels, receptive field 22
    # Model_7's stack with padded convolutions before the pool: the same weights see the digit's border,
    # and the maps after the pool are larger (7x7 or 8x8 at the last convolution instead of 6x6)
    "m7-padded-first": "p6 12 M D t6 10 10 11",
    "m7-padded-two": "p6 p12 M D t6 10 10 11",
    # 16 channels at the last convolution (the features that GAP averages), paid for by 8-channel layers before it
    "m7-last16": "6 12 M D t6 8 8 16",
    # Shared weights ("R": the previous 3x3 convolution again, with its own BatchNorm): these stacks underfit their
    # augmented batches, so depth that costs no parameters. Model_7's depth with 13 channels instead of 10-11,
    # one layer deeper (receptive field 22), a transition to 8, or a repeat before the pool as well
    "share-13": "6 12 M D t6 13 13 R",
    "share-13-deep": "6 12 M D t6 13 13 R R",
    "share-t8-12-deep": "6 12 M D t8 12 12 R R",
    "share-before-pool": "8 8 R M D t8 12 12 R R",
    # Model_7's stack with a squeeze-and-excitation gate ("S", 52-57 parameters) on the channels that GAP
    # averages, or on those that the last convolution sees
    "m7-se-last": "6 12 M D t6 10 10 11 S",
    "m7-se-before-last": "6 12 M D t6 10 10 S 11",
    # 3x3 convolutions in two groups with a channel shuffle ("g") after the pool: half the weights of a full
    # convolution, so 14 channels instead of 10-11, or a fourth layer of 12 (receptive field 22)
    "grouped3x14": "6 12 M D t8 g14 g14 g14",
    "grouped4x12": "6 12 M D t8 g12 g12 g12 g12",
    # A 5x5 first convolution ("k") instead of Model_7's two 3x3 ones: the same receptive field and map sizes for
    # 300 weights instead of 702 (12 channels out), the saving spent on the layers after the pool; or 16 channels
    "k12-wide": "k12 M D t6 11 11 12",
    "k16-wide": "k16 M D t6 11 11 11",
    "k12-m7": "k12 M D t6 10 10 11",  # ... or not spent: Model_7's stack with the 5x5 convolution, 3,020 parameters
    # Residual blocks ("b": a padded 3x3 convolution added to its input) after the pool: depth that keeps the
    # 12x12 map, so the last convolution sees 8x8 instead of 6x6, after a 5x5 first convolution or two 3x3 ones
    "k12-res": "k12 M D t8 b8 b8 10 10",
    "res-two": "4 8 M D t8 b8 b8 10 10",
    # sep-all-wide (2,806 parameters, 99.09% on the full schedule without the held rate) at 3,352: 23 channels,
    # and the same with its first separable layer after the pool padded
    "sep-all-23": "8 s16 M D t8 s23 s23 s23 s23",
    "sep-all-23-p": "8 s16 M D t8 ps23 s23 s23 s23",
    # sep-all-23 (Model_12) with up to 122 more parameters in one place: the transition (8 -> 10 channels), the
    # first convolution (8 -> 10), the separable layer before the pool (16 -> 20), the layers after it (24, 24, 24,
    # 22), or a fifth layer after the pool at 20 channels (receptive field 26); and without the transition
    "sep-23-t10": "8 s16 M D t10 s23 s23 s23 s23",
    "sep-23-first10": "10 s16 M D t8 s23 s23 s23 s23",
    "sep-23-pre20": "8 s20 M D t8 s23 s23 s23 s23",
    "sep-24-last22": "8 s16 M D t8 s24 s24 s24 s22",
    "sep-5x20": "8 s16 M D t8 s20 s20 s20 s20 s20",
    "sep-22-no-t": "8 s16 M D s22 s22 s22 s22",
    # Toward 2,500 parameters: Model_12's shape with 18 channels after the pool, and 12 or 16 before it
    "sep-all-18": "8 s16 M D t8 s18 s18 s18 s18",
    "sep-all-18-s12": "8 s12 M D t8 s18 s18 s18 s18",
}
# Stacks between the 3,500-parameter bar and Model_6's 7,442: where the smallest network that holds the bar on
# every seed lies. The grid stage runs them (they are not probed with the candidates above).
FRONTIER: dict[str, str] = {
    "m6-14": "8 16 M D t8 14 14 14",  # Model_6 with 14 channels after the pool
    "m6-12-14": "8 12 M D t8 14 14 14",  # ... and 12 before it
    # Model_6's three 16-channel layers after the pool, with Model_7's (Model_9's) layers before it
    "m9-16": "6 12 M D t6 16 16 16",
    "m6-12-16-16": "8 16 M D t8 12 16 16",  # ... or Model_6 with its first layer after the pool at 12 channels
    # ... and with narrower layers after the pool but the last one at 16 channels
    "m9-12-12-16": "6 12 M D t6 12 12 16",
    # Model_6's (Model_10's) stack with a 5x5 first convolution instead of its two 3x3 ones, and with two
    # residual blocks of 8 channels in place of its first 16-channel layer after the pool
    "m10-k16": "k16 M D t8 16 16 16",
    "m10-k16-res": "k16 M D t8 b8 b8 16 16",
    # The robust frontier: Model_15's shape (a first convolution, a separable one twice as wide, the pool, a 1x1
    # transition back to the first width, four separable layers of about three times it) between Model_14's 3,352
    # parameters (8 and 23 channels) and Model_15's 7,792 (12 and 39), at about 4,000, 4,500, 5,000 and 6,000
    "sep-9-26": "9 s18 M D t9 s26 s26 s26 s26",
    "sep-9-28": "9 s18 M D t9 s28 s28 s28 s28",
    "sep-10-29": "10 s20 M D t10 s29 s29 s29 s29",
    "sep-11-33": "11 s22 M D t11 s33 s33 s33 s33",
}
# Stacks between Model_6's 7,442 parameters and the course's 8,000: a Session 7 model with room to spare. Model_14's
# separable shape with the budget spent: wider after the pool only, wider everywhere, five layers after the pool
# (receptive field 26), or a wider first convolution.
BUDGET: dict[str, str] = {
    "sep-41": "8 s16 M D t8 s41 s41 s41 s41",
    "sep-24-39": "12 s24 M D t12 s39 s39 s39 s39",
    "sep-5x34": "10 s20 M D t10 s34 s34 s34 s34 s34",
    "sep-16-36": "16 s32 M D t16 s36 s36 s36 s36",
}
STACKS = {**CANDIDATES, **FRONTIER, **BUDGET}  # every named stack: what --list shows and a grid point may start from
# The robust frontier: Model_15's shape from Model_14's widths to its own, on their recipe (the README's table and
# figure). A size goes to the test set once it beats the incumbent at its size over 5 validation seeds; a size
# that did not go says why here.
ROBUST_FRONTIER = tuple(
    f"{stack}+hold2+bn300" for stack in ("sep-all-23", "sep-9-26", "sep-9-28", "sep-10-29", "sep-11-33", "sep-24-39")
)
# The levers toward at most 3,500 parameters on every seed, each on Model_14's point, beside it in the same table
LEVERS = ("sep-all-23+hold2+bn300+aug1.5+drop0",)
# The robust target is utils.course.S7_ROBUST. A point goes to the test set when its mean floor over 5 validation
# seeds beats the incumbent's at its size (Model_14's point) and reaches the target's mean floor, less the smallest
# gap between validation and test on record; the fewest parameters first.
WAITING: dict[str, str] = {}  # grid point -> why a point that qualifies has no test runs yet

BASE_RECIPE = dict(
    augmentation=1.0,
    lr=0.1,
    warmup=0.25,
    weight_decay=0.0,
    batch_size=128,
    dropout=0.05,
    label_smoothing=0.0,
    ema=0.0,
    distill=0.0,
)
# One change at a time from the base recipe, before TPE explores combinations: what each idea buys alone.
ONE_CHANGE = [
    dict(ema=0.999),
    dict(label_smoothing=0.1),
    dict(distill=0.5),
    dict(batch_size=64),
    dict(lr=0.2),
    dict(weight_decay=1e-4),
    dict(augmentation=1.5),
    dict(dropout=0.0),
]


def augmentation(factor: float) -> dict:
    """The course's augmentation (model.AUGMENTED: Model_7's rotation, scale and shift), all scaled by ``factor``."""
    return {k: model_lib.AUGMENTED[k] * factor for k in ("rotate", "scale", "translate")}


# Named changes to the base recipe for the grid stage. The recipe stage pruned at epoch 5, near the peak of the
# one-cycle rate, where a run with more regularization or a higher rate is behind and may still end ahead:
# these run the whole schedule.
RECIPE_CHANGES: dict[str, dict] = {
    "wd1e-4": dict(weight_decay=1e-4),
    "wd5e-5": dict(weight_decay=5e-5),
    "aug0.5": augmentation(0.5),
    "aug0.75": augmentation(0.75),
    "aug1.5": augmentation(1.5),
    "drop0.01": dict(dropout=0.01),
    "drop0.02": dict(dropout=0.02),
    "drop0.1": dict(dropout=0.1),
    "drop0": dict(dropout=0.0),
    # The stacks' own rate written out: such a point trains exactly as its base does, under a name of its own, so
    # that the base runs again on another machine beside a change, without replacing its runs on record
    "drop0.05": dict(dropout=0.05),
    "silu": dict(activation="silu"),
    "lr0.05": dict(lr=0.05),
    "lr0.2": dict(lr=0.2),
    "warm0.15": dict(warmup=0.15),
    "warm0.4": dict(warmup=0.4),
    "bs64": dict(batch_size=64),
    "adam0.01": dict(optimizer="adam", lr=0.01),
    # The one-cycle schedule over the first epochs, its final rate held for the last 1-3: the misses of the bar
    # on the test set so far are at epoch 13 of 15, where the rate is still annealing.
    "hold1": dict(hold=1),
    "hold2": dict(hold=2),
    "hold3": dict(hold=3),
    # The last 3 or 5 epochs on images without augmentation (the cycle's tail and the held rate): the evaluation's
    # distribution for BatchNorm's statistics and the last steps, where the stacks underfit their augmented batches
    "clean3": dict(clean=3),
    "clean5": dict(clean=5),
    # An exponential moving average of the weights and of BatchNorm's statistics, evaluated instead of the network:
    # at the held rate the weights hardly move, and BatchNorm's running statistics (momentum 0.1: about the last
    # 10 augmented batches) are what changes from one evaluation to the next. 0.99 averages about 100 steps,
    # 0.998 about 500 (an epoch is 391 steps of 128)
    "ema0.99": dict(ema=0.99),
    "ema0.998": dict(ema=0.998),
    # BatchNorm's statistics re-estimated before each evaluation, as the plain mean over 50 or 300 batches of
    # un-augmented training images: the weights and the run are those without it, only the statistics change
    "bn50": dict(bn_batches=50),
    "bn300": dict(bn_batches=300),
    # Distillation from the Session 6 model trained on the same 50k images (the teacher stage), its soft targets
    # weighted 0.9 (the earlier trial weighted them 0.5). A grid point names the committed teacher, dry run or not.
    "kd0.9": dict(distill=0.9, teacher=(DEFAULT_RESULTS_DIR / "val" / TEACHER_FILE).relative_to(REPO).as_posix()),
}
# "<candidate>[+<change>...]": a stack with changes of its recipe (a bare candidate is the base recipe).
GRID = [
    "m7+wd1e-4",
    "m7+aug0.5",
    "m7+drop0.02",
    "m7+lr0.2",
    "m7+hold2",
    "Model_8",
    "Model_8+hold2",
    "Model_6",
    "Model_6+hold2",
    "m7+aug1.5",
    "m7-w8-10",
    "m7-w8-8",
    "m7-wide3",
    "m7+adam0.01",
    "m7+warm0.15",
    # On Model_9's recipe (the held rate): the activation, a linear transition, dropout, the peak rate, coordinates
    "m7+hold2+silu",
    "m7-linear-t+hold2",
    "m7+hold2+drop0.1",
    "m7+hold2+lr0.05",
    "coords-in+hold2",
    "coords-pool+hold2",
    "fact3x12+hold2",
    "fact4x10+hold2",
    # Between the bar and Model_6, with Model_10's recipe: the smallest stack that might hold the bar on every seed
    "m6-14+hold2",
    "m6-12-14+hold2",
    # On Model_9's recipe: distillation weighted 0.9; padded convolutions before the pool
    "m7+hold2+kd0.9",
    "m7-padded-first+hold2",
    "m7-padded-two+hold2",
    # The probe stage's best stack, stopped at epoch 5 of the full stage by its pruner, run to the end
    "three-before-pool+hold2",
    # Between the bar and Model_6, smaller than Model_6 by 12% in two ways
    "m9-16+hold2",
    "m6-12-16-16+hold2",
    # Is it the width of the last convolution? 16 channels there, narrower layers before it
    "m9-12-12-16+hold2",
    "m7-last16+hold2",
    # On Model_9's recipe: convolutions whose weights are used twice or three times
    "share-13+hold2",
    "share-13-deep+hold2",
    "share-t8-12-deep+hold2",
    "share-before-pool+hold2",
    # On Model_9's recipe: the last epochs without augmentation
    "m7+hold2+clean3",
    "m7+hold2+clean5",
    # On Model_9's recipe: a squeeze-and-excitation gate
    "m7-se-last+hold2",
    "m7-se-before-last+hold2",
    # On Model_9's recipe: grouped convolutions after the pool
    "grouped3x14+hold2",
    "grouped4x12+hold2",
    # On Model_9's recipe: a 5x5 first convolution; residual blocks after the pool; wider separable layers
    "k12-wide+hold2",
    "k16-wide+hold2",
    "k12-res+hold2",
    "res-two+hold2",
    "sep-all-23+hold2",
    "sep-all-23-p+hold2",
    "k12-m7+hold2",
    # With Model_10's recipe: its stack with the 5x5 first convolution, without and with residual blocks
    "m10-k16+hold2",
    "m10-k16-res+hold2",
    # On Model_9's recipe: Model_12's stack (sep-all-23) a little wider in one place each
    "sep-23-t10+hold2",
    "sep-23-first10+hold2",
    "sep-23-pre20+hold2",
    "sep-24-last22+hold2",
    "sep-5x20+hold2",
    "sep-22-no-t+hold2",
    # Model_12's stack and recipe, evaluated through an average of its weights and BatchNorm statistics
    "sep-all-23+hold2+ema0.99",
    "sep-all-23+hold2+ema0.998",
    # Model_12's stack with twice the peak rate (a depthwise filter has 9 weights, a full one 9 per input channel),
    # or with SiLU instead of ReLU
    "sep-all-23+hold2+lr0.2",
    "sep-all-23+hold2+silu",
    # ... with three quarters of the augmentation, or dropout 0.02 instead of 0.05: at the held rate this stack's
    # training accuracy (augmented batches, dropout on) stays below its validation accuracy
    "sep-all-23+hold2+aug0.75",
    "sep-all-23+hold2+drop0.02",
    "sep-all-23+hold2+drop0.01",  # dropout 0.02 raised seeds 3-5 of this stack: less still
    # Model_12 with its final rate held for the last 3 epochs or the last 1 instead of 2: the held rate made
    # Model_6's stack hold the bar on every seed (Model_10), and its length was never varied
    "sep-all-23+hold3",
    "sep-all-23+hold1",
    # Model_12 with BatchNorm's statistics re-estimated on un-augmented images before each evaluation
    "sep-all-23+hold2+bn300",
    "sep-all-23+hold2+bn50",
    # Model_12's shape and recipe at 2,400 to 2,806 parameters: the stretch of 2,500
    "sep-all-18+hold2",
    "sep-all-18-s12+hold2",
    "sep-all-wide+hold2",
    # A Session 7 model with room to spare under 8,000 parameters, on Model_14's recipe (held rate, re-estimated
    # BatchNorm statistics): Model_10's stack, and Model_14's separable shape at 7,500-7,800 parameters
    "Model_6+hold2+bn300",
    "sep-41+hold2+bn300",
    "sep-24-39+hold2+bn300",
    "sep-5x34+hold2+bn300",
    "sep-16-36+hold2+bn300",
    # The smallest model, robustly: Model_14's stack and recipe with weight decay 1e-4, which the recipe stage pruned
    # at epoch 5 while it was ahead, run to the end; beside it Model_14's own point under its own name, on the same
    # machine (another machine's runs are other draws)
    "sep-all-23+hold2+bn300+wd1e-4",
    "sep-all-23+hold2+bn300+drop0.05",
    # The robust frontier on Model_14's (Model_15's) recipe: where between 3,352 and 7,792 parameters the bar starts
    # to hold on every seed (each on 5 seeds before any goes to the test set)
    "sep-9-26+hold2+bn300",
    "sep-9-28+hold2+bn300",
    "sep-10-29+hold2+bn300",
    "sep-11-33+hold2+bn300",
    # At most 3,500 parameters, robustly: Model_14's stack and recipe with half as much augmentation again and no
    # dropout, which the recipe stage pruned at epoch 5 while it was ahead (its one-change trials), run to the end
    "sep-all-23+hold2+bn300+aug1.5+drop0",
]
