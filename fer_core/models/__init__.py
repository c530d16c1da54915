"""Everything that is a model, in one home: architectures, the file format, shipped files.

* :mod:`~fer_core.models.architectures` — the networks, built by name from a registry, with
  their parameter and MAC counts.
* :mod:`~fer_core.models.file_format` — one ``.pt`` file per trained model (weights,
  architecture, classes, preprocessing, metadata): ``save_model`` / ``load_model``.
* :mod:`~fer_core.models.shipped` — which model files ship in the project's ``models/`` folder,
  the default one, and resolving a name or path to a file.
* :mod:`~fer_core.models.compiled` — the PyTorch inference backend (TorchScript, eager as
  fallback), used when a ``.pt`` model runs through PyTorch. Backends that were benchmarked and
  not adopted live in :mod:`fer_core.bench.backends`, which the runtime path never imports.

Model cards are not here: writing one evaluates the file on a dataset, so it needs the trainer's
evaluation and the dataset loaders, which sit above this package. They live in
:mod:`fer_core.shipping`, beside the ``ship`` command, so loading a model file never pulls in the
trainer or the datasets. Exporting a file's ONNX graph (:mod:`fer_core.onnx_export`) sits above
both this package and :mod:`fer_core.classifier`, which checks the graph it writes.

The name: this package is the *code* for models; the top-level ``models/`` folder holds the
shipped *files* (``fast.pt``, ``ckplus.pt`` and their cards), read through
:mod:`~fer_core.models.shipped` (folder overridable with ``FER_MODELS_DIR``). No Python code lives
there and nothing imports it, so the two cannot be confused by the interpreter; the folder keeps
its name because paths such as ``models/fast.pt`` are printed on every card's reproduce command.

Deliberately empty of imports: importing a light submodule (``shipped`` needs no torch) must not
load torch through this file.
"""
