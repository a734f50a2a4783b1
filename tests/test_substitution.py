"""{{name}} substitution: brace-safe, explicit, and a UsageError for unknown names."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from gemini_magics.core.prompt import UnknownVariable, substitute
from gemini_magics.emulator import Reply

from .support import creates


def test_references_are_replaced_and_code_braces_are_kept():
    class Config:
        path = "/data/x.csv"

    namespace = {"n": 3, "cfg": Config(), "rows": ["a", "b"], "d": {"k": "v"}, "Out": {3: 42}}
    text = (
        "n={{n}} path={{ cfg.path }} row={{rows[-1]}} k={{d['k']}} out={{Out[3]}}\n"
        "def f(): return {'a': 1}\nprint(f'{x}') {{ not a ref + 1 }} {single}"
    )
    assert substitute(text, namespace) == (
        "n=3 path=/data/x.csv row=b k=v out=42\n"
        "def f(): return {'a': 1}\nprint(f'{x}') {{ not a ref + 1 }} {single}"
    )


def test_unknown_reference_names_it():
    with pytest.raises(UnknownVariable, match="no variable named 'missing'"):
        substitute("{{missing.attr}}", {})
    with pytest.raises(UnknownVariable, match="IndexError"):
        substitute("{{rows[5]}}", {"rows": []})


def test_cell_substitutes_from_the_user_namespace(ip, emulator):
    emulator.enqueue(Reply.text("ok"), Reply.text("ok"))
    ip.run("topic = 'closures'\ncode = 'def f(): return {1: 2}'")
    ip.run("%%gemini\nExplain {{topic}} using:\n{{code}}\nand keep {braces} and {{ x + 1 }}")
    assert creates(emulator)[0].body["input"] == (
        "Explain closures using:\ndef f(): return {1: 2}\nand keep {braces} and {{ x + 1 }}"
    )
    ip.run("%%gemini --raw\nTemplate: {{topic}}")
    assert creates(emulator)[1].body["input"] == "Template: {{topic}}"


def test_line_magic_leaves_single_braces_alone(ip, emulator):
    emulator.enqueue(Reply.text("ok"))
    ip.run("x = 5")
    ip.run("%gemini what does {x} mean in an f-string, with x={{x}}?")
    assert creates(emulator)[0].body["input"] == "what does {x} mean in an f-string, with x=5?"


def test_unknown_name_in_a_cell_is_a_usage_error(ip, emulator):
    with pytest.raises(UsageError, match=r"no variable named 'nope' in \{\{nope\}\}"):
        ip.run("%%gemini\nSummarise {{nope}}")
    assert creates(emulator) == []


def test_out_history_reference(ip, emulator):
    emulator.enqueue(Reply.text("ok"))
    ip.run("6 * 7")
    number = ip.shell.execution_count - 1
    ip.run(f"%gemini is {{{{Out[{number}]}}}} the answer?")
    assert creates(emulator)[0].body["input"] == "is 42 the answer?"
