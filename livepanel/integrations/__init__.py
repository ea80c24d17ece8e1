"""Optional bridges to training frameworks and notebooks.

Each submodule imports its framework only when it is itself imported or used, so `livepanel` never
requires torch, Keras or IPython: `livepanel.integrations.torch` (`watch`, `unwatch`),
`livepanel.integrations.keras` (`LivePanelCallback`), `livepanel.integrations.jupyter` (`show`).
"""
