"""The GPT, its training loop, evaluation, generation and Hugging Face interop."""

import os

# OpenMP threads that spin while waiting are 3-7x slower when the machine is busier than its core
# count (measured on 2 shared cores: 585 ms a step sleeping vs 1.7-4.0 s spinning). libgomp reads
# this when torch is first imported, so it only takes effect when `model` is imported before torch
# (as in `python -m model.train`); an explicit setting in the environment wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
