"""Looking at data, metrics and mistakes: the helpers the tutorial notebooks call.

One module per concern; every public name is re-exported here, so notebooks, scripts
and tests call ``analysis.<name>``:

* ``notebook``: fast mode, the repository root, demo data, inline figures (``notebook_setup``);
* ``data_views``: value counts, examples per value, label co-occurrence, augmentation examples;
* ``figures``: class balance, image grids, heat maps, confusion matrix, validation and F-beta curves;
* ``metrics_explained``: the FashionAI AP row by row, precision/recall/F-beta per threshold,
  multi-label loss terms;
* ``error_analysis``: confusion matrix, top confusions, most confident mistakes, a run's
  saved validation or test predictions;
* ``activation_maps``: class activation maps (CAM, Grad-CAM) and their overlays;
* ``speed``: imperative vs hybridized images/s of a network;
* ``comparisons``: test accuracy with its 95 % interval, the spread over seeds, and the
  cost of a technique (training and prediction time per image);
* ``trained_runs``: runs a notebook trains or reuses, and their scores with TTA, weights and ensembles.

Everything returns numpy arrays, pandas tables or matplotlib figures, so the same
functions work in a notebook, a script or a test.
"""
from .activation_maps import ActivationMaps, class_activation_maps, feature_shapes, overlay_map  # noqa: F401
from .data_views import (augmentation_examples, conditional_cooccurrence, cooccurrence,  # noqa: F401
                         examples_per_value, fashionai_value_counts, jd_image_path)
from .error_analysis import (ValPredictions, confusion_matrix, load_test_predictions,  # noqa: F401
                             load_val_predictions, most_confident_mistakes, top_confusions)
from .figures import (image_grid, plot_class_balance, plot_confusion, plot_cooccurrence,  # noqa: F401
                      plot_curves_side_by_side, plot_fbeta_curves, plot_label_frequency, plot_val_curves,
                      show_jpeg)
from .metrics_explained import ap_table, fbeta_curves, multilabel_loss_terms, precision_recall_table  # noqa: F401
from .notebook import (DEMO_FASHIONAI_ROOT, DEMO_JD_ROOT, FAST_DIR_ENV, FAST_ENV, FAST_FASHIONAI,  # noqa: F401
                       FAST_JD, FAST_LOW_DATA, FAST_OVERRIDES, NotebookEnv, ensure_fashionai_demo, ensure_jd_demo,
                       find_repo_root, is_fast_mode, notebook_setup)
from .trained_runs import (RUNTIME_KEYS, EvalSet, compare_ensembles, evaluate_run, finished_run,  # noqa: F401
                           predict_images, run_eval_sets, score_predictions, score_test_probs, test_set,
                           train_or_reuse)
from .speed import compare_hybridize  # noqa: F401
from .comparisons import (accuracy_row, run_test_probs, seed_spread, test_accuracy,  # noqa: F401
                          timed_predictions, training_cost)
