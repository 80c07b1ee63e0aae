"""The plugin host: loads ``mammobench`` entry points one at a time and keeps a registry of specs.

A plugin that fails to import or register is recorded with its distribution, version, entry
point and error, and every other plugin still loads. Environment switches:

- ``MAMMOBENCH_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry points, except those allowed by
  ``MAMMOBENCH_PLUGINS``.
- ``MAMMOBENCH_PLUGINS=a,b``: load only the entry points (or distributions) with these names.
- ``MAMMOBENCH_TRACE_PLUGINS=1``: print every hook call and its result to standard error.
- ``MAMMOBENCH_STRICT_PLUGINS=1``: the same as the CLI's ``--strict-plugins`` option.
"""

from __future__ import annotations

import logging
import os
import sys
import types
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pluggy

from mammobench import hookspecs
from mammobench.errors import PluginLoadError, UnknownNameError
from mammobench.specs import DatasetSpec, EncoderSpec, TaskSpec

if TYPE_CHECKING:
    import typer

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "mammobench"

SpecT = TypeVar("SpecT", DatasetSpec, EncoderSpec, TaskSpec)

_REGISTRATION_HOOKS: tuple[tuple[str, str, type], ...] = (
    ("datasets", "mammobench_register_datasets", DatasetSpec),
    ("encoders", "mammobench_register_encoders", EncoderSpec),
    ("tasks", "mammobench_register_tasks", TaskSpec),
)


@dataclass(frozen=True)
class PluginInfo:
    """Where a plugin comes from."""

    entry_point: str
    distribution: str
    version: str
    module: str


@dataclass(frozen=True)
class PluginFailure:
    """A plugin that failed to import or register, and why."""

    entry_point: str
    distribution: str
    version: str
    error: str


@dataclass(frozen=True)
class Registered(Generic[SpecT]):
    """A spec together with the plugin that registered it."""

    spec: SpecT
    plugin: PluginInfo


def env_flag(name: str) -> bool:
    """Return True when the environment variable is set to a true value ('1', 'true', 'yes')."""
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


class PluginHost:
    """Registry of datasets, encoders and tasks contributed by plugins."""

    def __init__(
        self,
        *,
        autoload: bool | None = None,
        allow: Iterable[str] | None = None,
        trace: bool | None = None,
    ) -> None:
        if autoload is None:
            autoload = not env_flag("MAMMOBENCH_DISABLE_PLUGIN_AUTOLOAD")
        if allow is None:
            allowed_text = os.environ.get("MAMMOBENCH_PLUGINS", "")
            allow = [name.strip() for name in allowed_text.split(",") if name.strip()] or None
        if trace is None:
            trace = env_flag("MAMMOBENCH_TRACE_PLUGINS")

        self.autoload = autoload
        self.allow = set(allow) if allow is not None else None
        self.manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.manager.add_hookspecs(hookspecs)
        if trace:
            self.manager.trace.root.setwriter(sys.stderr.write)
            self.manager.enable_tracing()

        self.plugins: list[PluginInfo] = []
        self.failures: list[PluginFailure] = []
        self.datasets: dict[str, Registered[DatasetSpec]] = {}
        self.encoders: dict[str, Registered[EncoderSpec]] = {}
        self.tasks: dict[str, Registered[TaskSpec]] = {}
        self._loaded = False

    # ---------------------------------------------------------------------------------------------
    # Loading
    # ---------------------------------------------------------------------------------------------

    def load(self) -> PluginHost:
        """Load every allowed entry point once. Safe to call again; later calls do nothing."""
        if self._loaded:
            return self
        self._loaded = True

        for entry_point in sorted(_entry_points(), key=lambda ep: ep.name):
            if not self._is_allowed(entry_point):
                logger.debug("skipping plugin entry point '%s'", entry_point.name)
                continue
            info = _plugin_info(entry_point)
            try:
                module = entry_point.load()
            except Exception as error:  # any import error in third-party code is isolated
                self._record_failure(info, f"import failed: {type(error).__name__}: {error}")
                continue
            self.register_plugin(module, info)

        self._check_task_datasets()
        return self

    def register_plugin(self, plugin: object, info: PluginInfo) -> bool:
        """Register one plugin object (usually a module) and collect its specs.

        All of a plugin's specs are collected before any is added, so a plugin that fails in one
        hook contributes nothing. Returns True when the plugin registered cleanly.
        """
        try:
            self.manager.register(plugin, name=info.entry_point)
        except Exception as error:  # pluggy validates hook signatures here
            self._record_failure(info, f"registration failed: {type(error).__name__}: {error}")
            return False

        collected: dict[str, list[Any]] = {}
        for kind, hook_name, spec_type in _REGISTRATION_HOOKS:
            try:
                collected[kind] = self._call_hook_for(plugin, hook_name, spec_type)
            except Exception as error:
                self.manager.unregister(plugin)
                self._record_failure(info, f"{hook_name} failed: {type(error).__name__}: {error}")
                return False

        duplicate = self._find_duplicate(collected, info)
        if duplicate is not None:
            self.manager.unregister(plugin)
            self._record_failure(info, duplicate)
            return False

        for kind, specs in collected.items():
            registry: dict[str, Registered[Any]] = getattr(self, kind)
            for spec in specs:
                registry[spec.name] = Registered(spec=spec, plugin=info)
        self.plugins.append(info)
        logger.debug("loaded plugin '%s' from %s %s", info.entry_point, info.distribution, info.version)
        return True

    def register_commands(self, app: typer.Typer) -> None:
        """Let every loaded plugin add its sub-commands to ``app``."""
        for info in list(self.plugins):
            plugin = self.manager.get_plugin(info.entry_point)
            if plugin is None:
                continue
            caller = self._hook_caller_for(plugin, "mammobench_register_commands")
            try:
                caller(app=app)
            except Exception as error:
                self._record_failure(
                    info, f"mammobench_register_commands failed: {type(error).__name__}: {error}"
                )

    def check_strict(self) -> None:
        """Raise :class:`PluginLoadError` when any plugin failed to load."""
        if not self.failures:
            return
        first = self.failures[0]
        more = f" (and {len(self.failures) - 1} more)" if len(self.failures) > 1 else ""
        raise PluginLoadError(
            f"plugin '{first.entry_point}' from {first.distribution} {first.version} failed to "
            f"load: {first.error}{more}. Run 'mammobench plugins' for details, fix or uninstall "
            "the plugin, or drop --strict-plugins"
        )

    # ---------------------------------------------------------------------------------------------
    # Look-up
    # ---------------------------------------------------------------------------------------------

    def dataset(self, name: str) -> DatasetSpec:
        """Return the dataset spec called ``name`` or raise with a did-you-mean suggestion."""
        if name not in self.datasets:
            raise UnknownNameError("dataset", name, sorted(self.datasets))
        return self.datasets[name].spec

    def task(self, name: str) -> TaskSpec:
        """Return the task spec called ``name`` or raise with a did-you-mean suggestion."""
        if name not in self.tasks:
            raise UnknownNameError("task", name, sorted(self.tasks))
        return self.tasks[name].spec

    def encoder(self, name: str) -> tuple[EncoderSpec, str | None]:
        """Resolve an encoder name to its spec and, for parametric names, the argument.

        ``'timm:resnet18'`` resolves to the spec named ``'timm:'`` with argument ``'resnet18'``.
        """
        if name in self.encoders and not self.encoders[name].spec.takes_argument:
            return self.encoders[name].spec, None
        prefix, separator, argument = name.partition(":")
        if separator:
            registered = self.encoders.get(prefix + ":")
            if registered is not None and registered.spec.takes_argument:
                if not argument:
                    raise UnknownNameError("encoder", name, sorted(self.encoders))
                return registered.spec, argument
        raise UnknownNameError("encoder", name, sorted(self.encoders))

    def plugin_of(self, kind: str, name: str) -> PluginInfo:
        """Return the plugin that registered the spec ``name`` of ``kind`` ('encoders', ...)."""
        registry: dict[str, Registered[Any]] = getattr(self, kind)
        return registry[name].plugin

    # ---------------------------------------------------------------------------------------------
    # Internals
    # ---------------------------------------------------------------------------------------------

    def _is_allowed(self, entry_point: metadata.EntryPoint) -> bool:
        distribution = entry_point.dist.name if entry_point.dist is not None else ""
        if self.allow is not None:
            return entry_point.name in self.allow or distribution in self.allow
        return self.autoload

    def _hook_caller_for(self, plugin: object, hook_name: str) -> Any:
        others = [p for p in self.manager.get_plugins() if p is not plugin]
        return self.manager.subset_hook_caller(hook_name, remove_plugins=others)

    def _call_hook_for(self, plugin: object, hook_name: str, spec_type: type) -> list[Any]:
        results = self._hook_caller_for(plugin, hook_name)()
        specs: list[Any] = []
        for result in results:
            if result is None:
                continue
            if not isinstance(result, (list, tuple)):
                raise TypeError(f"{hook_name} must return a list of {spec_type.__name__}")
            for spec in result:
                if not isinstance(spec, spec_type):
                    raise TypeError(
                        f"{hook_name} returned {type(spec).__name__}; "
                        f"expected {spec_type.__name__}"
                    )
                specs.append(spec)
        return specs

    def _find_duplicate(self, collected: dict[str, list[Any]], info: PluginInfo) -> str | None:
        for kind, specs in collected.items():
            registry: dict[str, Registered[Any]] = getattr(self, kind)
            seen_here: set[str] = set()
            singular = kind.rstrip("s")
            for spec in specs:
                if spec.name in seen_here:
                    return (
                        f"{singular} '{spec.name}' is registered twice by {info.distribution}; "
                        "give each spec a unique name"
                    )
                seen_here.add(spec.name)
                if spec.name in registry:
                    other = registry[spec.name].plugin
                    return (
                        f"{singular} '{spec.name}' from {info.distribution} {info.version} "
                        f"duplicates the one from {other.distribution} {other.version}; "
                        "uninstall one of them or rename the spec"
                    )
        return None

    def _check_task_datasets(self) -> None:
        for name, registered in list(self.tasks.items()):
            if registered.spec.dataset not in self.datasets:
                del self.tasks[name]
                self._record_failure(
                    registered.plugin,
                    f"task '{name}' needs dataset '{registered.spec.dataset}', which no loaded "
                    "plugin registers",
                )

    def _record_failure(self, info: PluginInfo, error: str) -> None:
        logger.warning("plugin '%s' (%s %s): %s", info.entry_point, info.distribution, info.version, error)
        self.failures.append(
            PluginFailure(
                entry_point=info.entry_point,
                distribution=info.distribution,
                version=info.version,
                error=error,
            )
        )


def _entry_points() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def _plugin_info(entry_point: metadata.EntryPoint) -> PluginInfo:
    if entry_point.dist is not None:
        distribution, version = entry_point.dist.name, entry_point.dist.version
    else:
        distribution, version = "unknown", "unknown"
    return PluginInfo(
        entry_point=entry_point.name,
        distribution=distribution,
        version=version,
        module=entry_point.value,
    )


def module_info(module: types.ModuleType, *, distribution: str = "local", version: str = "0") -> PluginInfo:
    """Build a :class:`PluginInfo` for a module registered by hand (tests, notebooks)."""
    return PluginInfo(
        entry_point=module.__name__,
        distribution=distribution,
        version=version,
        module=module.__name__,
    )


_default_host: PluginHost | None = None


def get_host() -> PluginHost:
    """Return the process-wide plugin host, loading plugins on first use."""
    global _default_host
    if _default_host is None:
        _default_host = PluginHost().load()
    return _default_host


def set_host(host: PluginHost | None) -> None:
    """Replace the process-wide plugin host (tests use this to install fake plugins)."""
    global _default_host
    _default_host = host
