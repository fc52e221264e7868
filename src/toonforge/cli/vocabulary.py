"""The command-line vocabulary's machinery: hidden aliases for old spellings, and help that shows defaults.

The vocabulary itself is written down in the docstring of :mod:`toonforge.cli`;
tests/test_cli_vocabulary.py walks every subcommand and checks it.

* :func:`alias` gives an option an old spelling that still parses (to the same ``dest``) but is
  left out of ``--help``, so renaming an option never breaks a script.
* :class:`HelpFormatter` (the formatter of every toonforge parser) hides those aliases and adds
  ``(default: X)`` to an option's help unless the help already says its default, or there is
  nothing to say (no default, an on/off flag, a suppressed default).
"""

from __future__ import annotations

import argparse
import re


def alias(parser: argparse.ArgumentParser, option: str, *old: str) -> argparse.Action:
    """Let the old spellings ``old`` of ``parser``'s ``option`` still parse, hidden from ``--help``.

    ``option`` must already be added; the old strings join its action (same dest, same type,
    same ``required``), so ``--out X`` and ``-o X`` fill the same value. Returns the action.
    """
    action = parser._option_string_actions[option]
    for name in old:
        if name in parser._option_string_actions:
            raise ValueError(f"{parser.prog}: {name} is already an option")
        action.option_strings.append(name)
        parser._option_string_actions[name] = action
    action.hidden_aliases = (*getattr(action, "hidden_aliases", ()), *old)
    if action.metavar is None and action.nargs != 0:  # a kept dest shows the new name, not the old
        action.metavar = option.lstrip("-").replace("-", "_").upper()
    return action


def visible_options(action: argparse.Action) -> list[str]:
    """The option strings of ``action`` that ``--help`` shows (its hidden aliases left out)."""
    hidden = set(getattr(action, "hidden_aliases", ()))
    return [s for s in action.option_strings if s not in hidden]


def shows_default(action: argparse.Action) -> bool:
    """Whether ``--help`` should add ``(default: X)`` to ``action``'s help."""
    if action.help in (None, argparse.SUPPRESS) or action.default is None or action.default is False:
        return False
    if action.default is argparse.SUPPRESS:
        return False
    if isinstance(action, (argparse._StoreConstAction, argparse._StoreTrueAction, argparse._VersionAction,
                           argparse._HelpAction, argparse._CountAction, argparse._AppendConstAction)):
        return False
    if isinstance(action.default, (list, tuple)) and not action.default:
        return False
    if "%(default)" in action.help or "default" in action.help.lower():
        return False
    return bool(action.option_strings) or action.nargs in (argparse.OPTIONAL, argparse.ZERO_OR_MORE)


def without_aliases(parser: argparse.ArgumentParser, message: str) -> str:
    """``message`` (an argparse error) with the hidden aliases of ``parser``'s options left out."""
    for action in parser._actions:
        for name in getattr(action, "hidden_aliases", ()):
            message = re.sub(re.escape("/" + name) + r"(?![\w-])", "", message)
    return message


class HelpFormatter(argparse.HelpFormatter):
    """Help with every option's default shown and the old spellings (:func:`alias`) hidden."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if shows_default(action):
            text += " (default: %(default)s)"
        return text

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not getattr(action, "hidden_aliases", ()):
            return super()._format_action_invocation(action)
        shown = argparse.Action(visible_options(action), action.dest, nargs=action.nargs,
                                metavar=action.metavar, choices=action.choices)
        return super()._format_action_invocation(shown)


class RawDescriptionHelpFormatter(argparse.RawDescriptionHelpFormatter, HelpFormatter):
    """:class:`HelpFormatter` keeping the description's own line breaks (for commands that list steps)."""


class _StoreIfGiven(argparse._StoreAction):
    """Store a positional's value only when one was given (argparse also calls it, with None, when not)."""

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        if values is not None:
            setattr(namespace, self.dest, values)


def positional_input(parser: argparse.ArgumentParser, dest: str, *old: str, metavar: str, help: str,
                     **kwargs) -> argparse.Action:
    """A required positional input ``dest`` that its old option spellings ``old`` (hidden) still give.

    The positional is optional to argparse (so ``--in X`` alone parses; an absent one sets nothing,
    so it cannot undo ``--in``); :func:`check_required`,
    called by the toonforge parser after parsing, reports it missing the way argparse would.
    """
    action = parser.add_argument(dest, nargs="?", default=None, action=_StoreIfGiven, metavar=metavar, help=help,
                                 **kwargs)
    action.required_input = True
    if old:
        hidden = parser.add_argument(*old, dest=dest, default=argparse.SUPPRESS, help=argparse.SUPPRESS, **kwargs)
        hidden.hidden_aliases = tuple(old)
    return action


def check_required(parser: argparse.ArgumentParser, namespace: argparse.Namespace) -> None:
    """Report (``parser.error``) a :func:`positional_input` given neither way."""
    missing = [a.metavar for a in parser._actions
               if getattr(a, "required_input", False) and getattr(namespace, a.dest, None) is None]
    if missing:
        parser.error("the following arguments are required: " + ", ".join(missing))


def subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Every subcommand parser under ``parser`` by its full name, nested ones too (``"import onnx"``)."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[prefix + name] = sub
                found.update(subcommands(sub, prefix + name + " "))
    return found
