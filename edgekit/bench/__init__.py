"""Benchmarking on devices over adb: the output parser (``parse``), the results store
(``results``) and the orchestrator (``runner``). Importing the package is cheap; the submodules
import what they need."""
