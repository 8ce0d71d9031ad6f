"""Everything fmnist draws: matplotlib figures (or their PNG/GIF files), one module per subject.

``plot`` is the shared base (style, ``Figure``, ``save``, image grids); ``run`` draws one run,
``explain`` attribution maps, ``robustness`` corruptions, ``experiment`` a folder of runs,
``search`` an Optuna study, ``explore``, ``audit`` and ``augment`` the data set, and ``maps`` PCA
and t-SNE maps of images or learned features.
The pages that show them are ``fmnist.report``'s: report imports viz, viz never imports report.
"""
