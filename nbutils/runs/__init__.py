"""Running the notebooks: a parameter file read and checked (``parameters``), the trainings it needs
planned (``plan``) and farmed out to Ray (``ray_executor``), the notebooks executed with papermill
(``notebooks``), a notebook's own setup (``start``) and its run folder (``folder``), the run's
provenance and its HTML page (``provenance``, ``html_report``).

May import every other part of nbutils; nothing but the commands (``nbutils.run``,
``nbutils.report``, ``nbutils.publish``) imports it.
"""
