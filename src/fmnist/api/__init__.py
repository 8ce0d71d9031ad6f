"""The Python API: one function per user action. The ``fmnist`` command calls these and nothing
else, so a notebook gets the same checks, the same run folders and the same errors. Each calls the
module that does the work. They are grouped by subject, and each module's ``__all__`` is
imported here: ``runs`` (one run and its model), ``experiments`` (recipes and what is made of
their runs), ``studies`` (hyperparameter search) and ``data``.

    >>> import fmnist
    >>> run = fmnist.fit(recipe="fast")             # fmnist train --recipe fast  -> runs/fast/seed0
    >>> run.summary["test_accuracy"]
    >>> fmnist.api.run_recipes(["s003_*"], seeds=3)  # fmnist run 's003_*' --seeds 3
    >>> fmnist.api.table("runs").markdown           # fmnist table runs

Importing this module loads no torch: configs and recipes are resolved and validated without it,
and the functions that train, evaluate or draw import it when called.
"""

from fmnist.api import data as _data
from fmnist.api import experiments as _experiments
from fmnist.api import runs as _runs
from fmnist.api import studies as _studies
from fmnist.api.data import *  # noqa: F403
from fmnist.api.experiments import *  # noqa: F403
from fmnist.api.runs import *  # noqa: F403
from fmnist.api.studies import *  # noqa: F403

__all__ = [*_runs.__all__, *_experiments.__all__, *_studies.__all__, *_data.__all__]
