"""The whole platform on one machine: MLflow server, Triton, transformer, gateway.

``spam-platform up`` (``make up``) prepares models and starts a detached supervisor process;
``spam-platform down`` stops everything; ``spam-platform status`` reports. State lives in
``$SPAM_HOME/run/`` (pid files, logs, the served model copies, the hashed API keys).
"""
