"""Template rendering for feeds: Jinja2 with strict undefined names, errors that name template and line.

jinja2 is imported on first use, so ``import zkservices`` never needs it
(``pip install zkservices[feed]`` brings it).  Templates render with
``StrictUndefined`` (an undefined name is an error), ``trim_blocks`` and
``lstrip_blocks`` (a line holding only a ``{% … %}`` tag leaves no blank line)
and the trailing newline kept.  The ``token`` filter
(:func:`~zkservices._feed.safety.token`) passes a value that must be a single
safe word (``{{ p.properties.weight | token }}``) and raises
:class:`~zkservices.FeedTemplateError` naming any other.  The ``json``,
``file_sd`` and ``provider_list`` filters (:mod:`.shipped`) make JSON files
without pasting values into text.

The shipped templates (:data:`SHIPPED_TEMPLATES`) are ``haproxy``,
``nginx``, ``prometheus`` (Prometheus ``file_sd`` target groups) and ``json``
(a list of providers).
"""

from __future__ import annotations

import types
from importlib import resources
from typing import Any, Mapping

from ..errors import FeedTemplateError
from .safety import token
from .shipped import file_sd, provider_list, to_json

__all__ = [
    "render",
    "compile_template",
    "render_compiled",
    "example_template",
    "shipped_template",
    "SHIPPED_TEMPLATES",
    "FeedTemplateError",
]

#: The shipped templates by name (what ``--template NAME`` and the agent's
#: ``template: NAME`` pick when no file of that name exists) -> their file in ``examples/``.
SHIPPED_TEMPLATES = {
    "haproxy": "haproxy-backend.cfg.j2",
    "nginx": "nginx-upstream.conf.j2",
    "prometheus": "prometheus-file-sd.json.j2",
    "json": "providers.json.j2",
}


def _jinja2() -> types.ModuleType:
    try:
        import jinja2
    except ImportError as exc:
        raise ImportError("jinja2 is needed: pip install zkservices[feed]") from exc
    return jinja2


def _environment() -> Any:
    jinja2 = _jinja2()
    env = jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["token"] = token
    env.filters["json"] = to_json
    env.filters["file_sd"] = file_sd
    env.filters["provider_list"] = provider_list
    return env


def _template_line(tb: types.TracebackType | None, template_name: str) -> int | None:
    """The line of the innermost traceback frame that belongs to the template."""
    lineno = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == template_name:
            lineno = tb.tb_lineno
        tb = tb.tb_next
    return lineno


def compile_template(template_text: str, template_name: str) -> Any:
    """Compile ``template_text`` into a Jinja2 template named ``template_name``.

    Raises :class:`FeedTemplateError` (naming the template and line) for a
    syntax error and ``ImportError`` when jinja2 is not installed.
    """
    jinja2 = _jinja2()
    env = _environment()
    try:
        code = env.compile(template_text, name=template_name, filename=template_name)
    except jinja2.TemplateSyntaxError as exc:
        raise FeedTemplateError(exc.message or str(exc), template_name=template_name, lineno=exc.lineno) from None
    return env.template_class.from_code(env, code, env.make_globals(None))


def render_compiled(template: Any, context: Mapping[str, Any], template_name: str) -> str:
    """Render a template made by :func:`compile_template` with ``context``.

    Raises :class:`FeedTemplateError` naming ``template_name`` and the line for
    undefined names and any other error raised while rendering.
    """
    try:
        return template.render(context)
    except FeedTemplateError as exc:  # the token filter refused a value
        lineno = _template_line(exc.__traceback__, template_name)
        extra: dict[str, Any] = {"value": exc.value} if exc.refused else {}
        raise FeedTemplateError(exc.reason, template_name=template_name, lineno=lineno, **extra) from exc
    except Exception as exc:
        reason = str(exc) if type(exc).__module__.startswith("jinja2") else f"{type(exc).__name__}: {exc}"
        raise FeedTemplateError(
            reason, template_name=template_name, lineno=_template_line(exc.__traceback__, template_name)
        ) from exc


def render(template_text: str, context: Mapping[str, Any], *, template_name: str = "<template>") -> str:
    """Render the Jinja2 template ``template_text`` with ``context`` (strict undefined names).

    Raises :class:`FeedTemplateError` (a ``ValueError``) naming ``template_name``
    and the line for syntax errors, undefined names and other errors raised
    while rendering, and ``ImportError`` when jinja2 is not installed.
    """
    return render_compiled(compile_template(template_text, template_name), context, template_name)


def example_template(name: str) -> str:
    """The text of an example template shipped in ``zkservices/examples/``.

    :param name: a file name among :data:`SHIPPED_TEMPLATES`' values
        (``"nginx-upstream.conf.j2"``...).

    Raises :class:`FileNotFoundError` for another name.
    """
    return resources.files("zkservices").joinpath("examples").joinpath(name).read_text(encoding="utf-8")


def shipped_template(name: str) -> str:
    """The text of the shipped template ``name`` (``"haproxy"``, ``"nginx"``,
    ``"prometheus"``, ``"json"``); :class:`KeyError` for another name."""
    return example_template(SHIPPED_TEMPLATES[name])
