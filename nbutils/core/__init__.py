"""The base every part stands on: the device, threads, cache and atomic writes (``runtime``), typed
options built by name (``config``) and the scores, all in [0, 1] (``metrics``).

Imports nothing from the rest of nbutils.
"""
