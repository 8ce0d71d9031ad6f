"""Your own model through fmnist's protocol: a factory of yours, three ways in, one record.

- A reference, on the command line or in a config: ``model.name: my_pkg.nets:TinyNet`` (a module
  on the Python path) or ``examples/tiny.py:TinyNet`` (a file, imported as a module of its own).
- Registered in Python: ``@fmnist.register_model("tiny")`` on the factory, or
  ``fmnist.fit(model=TinyNet, ...)``.
- An installed plugin: an entry point in the group ``fmnist.models`` (its name is the model's
  name, its value ``module:factory``), found by name once the package is installed.

A factory is any callable (a function, an ``nn.Module`` class) that takes the model's options as
keyword arguments and returns a module mapping (N, 1, 28, 28) images to (N, 10) logits. Its
signature declares the options: names, defaults and annotations become a pydantic options model,
so ``--set model.width=32`` is validated, and an unknown or ill-typed option refused, as for the
built-in models.

User code is imported only where the user named it: the config or command line of a training,
or a command on a run that trained it (resume, evaluate, predict, report, export, serve).
Reading a run folder's files never imports it, and nothing is unpickled. Each run records where
its model came from (``model_source`` in env.json and final.pt: the reference, the file's
SHA-256, the package and its version), and loading the run again refuses code that changed since.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import sys
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, create_model

from fmnist.errors import ConfigError, RunDirError, UnknownModelError
from fmnist.models import catalog

ENTRY_POINT_GROUP = "fmnist.models"
_FILE_MODULES = "fmnist_user_models"  # files imported by path live under this module prefix
Factory = Callable[..., Any]


def is_reference(name: str) -> bool:
    """Whether a model name is an import reference (``module:callable``, ``file.py:callable``)."""
    return ":" in name


def short_name(name: str) -> str:
    """The part of a model name fit for a run folder: 'examples/tiny.py:TinyNet' -> 'TinyNet'."""
    return name.rpartition(":")[2] if is_reference(name) else name


# -- registering --------------------------------------------------------------------------------
def register_model(name: str) -> Callable[[Factory], Factory]:
    """Decorator: register ``factory`` as model ``name`` (``fmnist models`` lists it, a config
    names it). Its signature's parameters are the model's options; its docstring's first line
    is its description. Registering a name again replaces the earlier factory (a notebook cell
    run twice); a built-in model's name is refused."""

    def register(factory: Factory) -> Factory:
        add_factory(name, factory, source_of(factory))
        return factory

    return register


def add_factory(name: str, factory: Factory, source: dict[str, Any]) -> None:
    if not callable(factory):
        raise ConfigError(
            f"model {name!r}: {type(factory).__name__} is not callable",
            fix="register a function or an nn.Module class that returns the model",
        )
    if catalog.is_builtin(name):
        raise ConfigError(
            f"model name {name!r} is one of fmnist's own models",
            fix="register yours under another name",
        )
    doc = inspect.getdoc(factory) or ""
    description = doc.splitlines()[0] if doc else f"your model {source['reference']}"
    catalog.add_model(
        name, options_model(factory, name), _checked_builder(factory, name), description, source
    )


def options_model(factory: Factory, name: str) -> type[catalog.ModelOptions]:
    """The factory's keyword parameters as a pydantic options model (an unannotated parameter
    takes any value; ``**kwargs`` lets unknown options through)."""
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        hints = typing.get_type_hints(target)
    except Exception:  # a hint naming what the module does not define: take any value
        hints = {}
    fields, base = {}, catalog.ModelOptions
    for parameter in inspect.signature(factory).parameters.values():
        if parameter.kind is parameter.VAR_KEYWORD:
            base = _OpenOptions
        elif parameter.kind not in (parameter.VAR_POSITIONAL, parameter.POSITIONAL_ONLY):
            default = ... if parameter.default is parameter.empty else parameter.default
            fields[parameter.name] = (hints.get(parameter.name, Any), default)
    return create_model(f"{short_name(name)}Options", __base__=base, **fields)


class _OpenOptions(catalog.ModelOptions):
    """Options of a factory with ``**kwargs``: options it does not name pass through."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)


def _checked_builder(factory: Factory, name: str) -> Callable[[catalog.ModelOptions], Any]:
    """The factory called with the validated options, its result checked: an nn.Module that maps
    two blank (1, 28, 28) images to (2, 10) logits."""

    def build(options: catalog.ModelOptions) -> Any:
        import torch

        values = {**options.model_dump(), **(options.model_extra or {})}
        module = factory(**values)
        if not isinstance(module, torch.nn.Module):
            raise ConfigError(
                f"model {name!r} returned {type(module).__name__}, not a torch.nn.Module",
                fix="return the network (an nn.Module) from the factory",
            )
        parameter = next(module.parameters(), None)
        device = parameter.device if parameter is not None else torch.device("cpu")
        was_training = module.training
        with torch.no_grad():
            shape = tuple(module.eval()(torch.zeros(2, 1, 28, 28, device=device)).shape)
        module.train(was_training)
        if shape != (2, 10):
            raise ConfigError(
                f"model {name!r} maps 2 images of (1, 28, 28) to {shape}",
                allowed="(N, 10): one logit per class",
                fix="end the network with a layer of 10 outputs",
            )
        return module

    return build


# -- where a model comes from -------------------------------------------------------------------
def source_of(factory: Factory) -> dict[str, Any]:
    """The record of where ``factory`` is defined, enough to import it again and to tell whether
    its code changed: its module's file and that file's SHA-256 (with the installed package and
    its version when the module belongs to one)."""
    qualname = getattr(factory, "__qualname__", getattr(factory, "__name__", "factory"))
    module = sys.modules.get(getattr(factory, "__module__", "") or "")
    path = getattr(module, "__file__", None)
    if path is None:
        return {"kind": "session", "reference": f"{getattr(module, '__name__', '?')}:{qualname}"}
    path = str(Path(path).resolve())
    record = {"sha256": file_sha256(path), "path": path}
    if module.__name__ == "__main__" or module.__name__.startswith(_FILE_MODULES + "."):
        return {"kind": "file", "reference": f"{path}:{qualname}", **record}
    package = _package_of(module.__name__)
    return {"kind": "module", "reference": f"{module.__name__}:{qualname}", **record, **package}


def _package_of(module: str) -> dict[str, str]:
    names = importlib.metadata.packages_distributions().get(module.partition(".")[0], [])
    if not names:
        return {}
    return {"package": names[0], "version": importlib.metadata.version(names[0])}


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# -- importing ----------------------------------------------------------------------------------
def load_reference(reference: str) -> str:
    """Import ``module:callable`` or ``file.py:callable`` and register the callable under the
    reference itself; returns the reference (now a registered name)."""
    if catalog.is_registered(reference):
        return reference
    target, _, attribute = reference.rpartition(":")
    module = _import_file(Path(target)) if target.endswith(".py") else _import_module(target)
    factory = module
    for part in attribute.split("."):
        factory = getattr(factory, part, None)
    if factory is None:
        callables = sorted(k for k, v in vars(module).items() if callable(v) and k[0] != "_")
        raise UnknownModelError(
            f"{target} has no {attribute!r}",
            allowed=", ".join(callables[:12]) or "no public callables",
            got=reference,
            fix="name a function or class defined there, as FILE_OR_MODULE:NAME",
        )
    add_factory(reference, factory, source_of(factory))
    return reference


def _import_file(path: Path) -> Any:
    if not path.is_file():
        raise UnknownModelError(
            f"model file {path} not found",
            fix="give a .py file that exists, as path/to/file.py:NAME (relative to this folder)",
        )
    resolved = path.resolve()
    digest = file_sha256(resolved)[:12]
    name = f"{_FILE_MODULES}.{''.join(c if c.isalnum() else '_' for c in resolved.stem)}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, resolved)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling-free torch code look modules up here
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise _import_failed(str(path), exc) from None
    return module


def _import_module(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            raise UnknownModelError(
                f"no module {exc.name!r} on the Python path",
                fix="install its package, or name a file: path/to/file.py:NAME",
            ) from None
        raise _import_failed(name, exc) from None
    except Exception as exc:
        raise _import_failed(name, exc) from None


def _import_failed(what: str, exc: Exception) -> ConfigError:
    where = ""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:
        where = f" (at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno})"
    return ConfigError(
        f"importing your model code {what} failed: {type(exc).__name__}: {exc}{where}",
        fix="fix the error in that code (python -c 'import ...' shows the whole trace)",
    )


def load_plugin(name: str) -> bool:
    """Register the installed plugin model ``name`` (entry point group ``fmnist.models``);
    False when no installed package declares it."""
    for entry in plugin_entry_points():
        if entry.name == name:
            try:
                factory = entry.load()
            except Exception as exc:
                raise _import_failed(f"{entry.value} (plugin {entry.name!r})", exc) from None
            source = source_of(factory)
            if entry.dist is not None:
                source.update(package=entry.dist.name, version=entry.dist.version)
            add_factory(name, factory, {**source, "kind": "plugin", "entry_point": entry.value})
            return True
    return False


def plugin_entry_points() -> list[importlib.metadata.EntryPoint]:
    return list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))


def _find(name: str) -> None:
    """Register ``name`` if it is a reference or an installed plugin's model (else leave it)."""
    if is_reference(name):
        load_reference(name)
    else:
        load_plugin(name)


catalog.add_finder(_find, lambda: [entry.name for entry in plugin_entry_points()])


# -- a run's model, again -----------------------------------------------------------------------
def restore(name: str, source: dict[str, Any] | None, where: str) -> None:
    """Make the model a run trained (``name``, recorded as ``source``) importable again in this
    process, after checking its code is the code it trained with; ``where`` names the run or
    checkpoint in messages. Built-in models and models without a record need nothing."""
    if source is None or catalog.is_builtin(name):
        return
    registered = catalog.model_source(name) if catalog.is_registered(name) else None
    same_code = registered is not None and registered.get("sha256") == source.get("sha256")
    if source["kind"] == "session":
        if same_code:
            return
        raise RunDirError(
            f"{where}: its model {name!r} was defined in an interactive session "
            f"({source['reference']}), not in a file fmnist can import",
            fix="register it again in this session, or move it to a .py file and train with "
            "--model path/to/file.py:NAME",
        )
    path = Path(source["path"])
    if not path.is_file():
        raise RunDirError(
            f"{where}: its model code {path} is gone",
            fix="restore that file (the run records its SHA-256), or train again",
        )
    now = file_sha256(path)  # checked on every load: the file is what the user edits
    if now != source["sha256"]:
        raise RunDirError(
            f"{where}: its model code {path} changed since the run trained (SHA-256 "
            f"{source['sha256'][:12]}... then, {now[:12]}... now)",
            fix="restore the file the run trained with (e.g. git checkout), or train a new run",
        )
    if same_code:
        return
    _import_recorded(name, source)


def _import_recorded(name: str, source: dict[str, Any]) -> None:
    if source["kind"] == "plugin" and load_plugin(name):
        return
    module = source["reference"].rpartition(":")[0]
    if source["kind"] == "module":
        try:
            _import_module(module)  # a decorator in it registers ``name``
        except UnknownModelError:  # not on this process's path: the recorded file
            _import_file(Path(source["path"]))
    else:
        _import_file(Path(source["path"]))
    if is_reference(name) and not catalog.is_registered(name):
        attribute = source["reference"].rpartition(":")[2]
        factory = sys.modules[_module_name_of(source)]
        for part in attribute.split("."):
            factory = getattr(factory, part)
        add_factory(name, factory, source)
    if not catalog.is_registered(name):
        raise RunDirError(
            f"importing {source['path']} did not register model {name!r}",
            fix="keep the @fmnist.register_model decorator the run trained with",
        )


def _module_name_of(source: dict[str, Any]) -> str:
    path = Path(source["path"]).resolve()
    for module_name, module in list(sys.modules.items()):
        if getattr(module, "__file__", None) and Path(module.__file__).resolve() == path:
            return module_name
    raise RunDirError(f"{path} was imported but no module holds it")
