"""Rich renderables of the recovery walkthrough: the steps and the state line, what happened (with
the failing line marked by a glyph as well as a highlight), and a choice with its exact SQL. Text
from the database is never parsed as markup."""
from __future__ import annotations

from rich.console import Group, RenderableType
from rich.text import Text

from pgferry.tui.recover_view import _when

from .privileged import indent, sql_text
from .recovery_model import Choice, Item, Walkthrough
from .safe import escaped

STEPS = ("what happened", "choose", "confirm", "act", "verify")


def steps(current: int) -> Text:
    """The walkthrough's five steps, the current one marked by a glyph and reverse video."""
    marks = Text()
    for n, name in enumerate(STEPS, 1):
        if n > 1:
            marks.append(" › ")
        marks.append(f"{'▶' if n == current else ''}{n} {name}", style="bold reverse" if n == current else "")
    return marks


def state(w: Walkthrough, acted: bool) -> Text:
    """Clean (after an action or not), or how many things there are to recover and how many run."""
    if w.clean:
        done = " after your action" if acted else ""
        return Text(f"✓ clean{done}: no failed, stale or running attempt, no invalid index. "
                    "Press Esc to go back to the overview; e exports the transcript.")
    dirty = sum(1 for i in w.items if i.problem is None or i.problem.actionable)
    return Text(f"{dirty} thing(s) to recover; {len(w.items) - dirty} running. Enter: choose a fix "
                "for the highlighted one (each choice shows its SQL first).")


def excerpt(problem, dark: bool) -> list[RenderableType]:
    lines = problem.excerpt
    width = max(len(str(x.number or "")) for x in lines)
    code = sql_text("\n".join(x.text for x in lines), dark).split("\n")
    out: list[RenderableType] = []
    for x, highlighted in zip(lines, code):
        row = Text.assemble(("▶ " if x.marked else "  ", "bold"), (f"{x.number or '':>{width}} │ ", "dim"))
        highlighted.rstrip()
        if x.marked:
            highlighted.stylize("bold reverse")  # reverse survives NO_COLOR and 16 colours
        row.append_text(highlighted)
        out.append(row)
    return out


def advice(item: Item) -> list[RenderableType]:
    """The one fix the evidence points to, or why none works yet: said first, not one of four."""
    best = item.recommended
    if best is not None:
        return [Text.assemble(("★ recommended: ", "bold"), (f"{best.key}  {best.label}", "bold"), "\n   ",
                              f"because {best.evidence}")]
    if item.blocked_by:
        return [Text.assemble(("✗ no fix works yet: ", "bold"), item.blocked_by)]
    return []


def what_happened(item: Item, dark: bool) -> RenderableType:
    if item.index is not None:
        i = item.index
        why = f"recorded as applied by {i.owner} while invalid" if i.owner else "no migration owns it"
        return escaped(Group(Text(item.title, style="bold"), *advice(item),
                             Text(f"in {i.database}: {why}; nobody is building it"), Text(f"definition: {i.definition}")))
    p = item.problem
    a = p.attempt
    cic = " concurrent index" if p.migration and p.migration.create_index_concurrently and a.up else ""
    parts: list[RenderableType] = [
        Text(f"{item.title[:-1]}{cic}) on {p.database}", style="bold"),
        *advice(item),
        Text(f"started {_when(a.started_at)}, finished {_when(a.finished_at) if a.finished_at else 'never recorded a result'}"),
        Text(f"by backend {a.backend_pid or '?'} on {a.host or '?'} (pgferry {a.pgferry_version or '?'})"),
        Text.assemble("backend alive: ", ("yes — still running" if p.alive else "no", "bold"),
                      "; recorded as applied: ", ("yes" if p.applied else "no", "bold")),
    ]
    if a.error_message:
        state = f" (SQLSTATE {a.error_sqlstate})" if a.error_sqlstate else ""
        where = f" at {p.path}:{a.error_line}" if p.path and a.error_line else \
            f" at line {a.error_line}" if a.error_line else ""
        parts.append(Text.assemble(("✗ error: ", "bold"), a.error_message.splitlines()[0], state, where))
        parts += [indent(Text(x), 4) for x in a.error_message.splitlines()[1:]]
    if p.excerpt:
        if p.script_changed:
            parts.append(Text(f"{p.path} changed since this attempt; the statement as it ran:", style="italic"))
        elif not a.error_message:
            parts.append(Text(f"was running ({p.path}):", style="italic"))
        parts += [indent(x, 2) for x in excerpt(p, dark)]
    if p.effects:
        parts.append(Text("left in the catalog (what up.sql creates):"))
        for e in p.effects:
            detail = f", {e.detail}" if e.detail else ""
            mark = "● present" if e.present else "○ absent "
            parts.append(indent(Text(f"{mark}  {e.kind} {e.name} (line {e.line}{detail})"), 2))
    return escaped(Group(*parts))  # the server's messages and names, the definitions' SQL


def diagnosis(item: Item) -> RenderableType:
    """Step 2's one-line reminder of the problem (step 1 has the whole story)."""
    error = ""
    if item.problem is not None and item.problem.attempt.error_message:
        error = f": {item.problem.attempt.error_message.splitlines()[0]}"
    return escaped(Text(f"{item.title}{error}", style="bold", no_wrap=True, overflow="ellipsis"))


def cli_twin(choice: Choice) -> str:
    a = choice.action
    schema = f" --schema {a.schema}" if a.schema else ""
    return f"pgferry recover --{choice.kind} {a.target}{schema}"


def choice_prompt(choice: Choice) -> Text:
    if choice.action is None:
        return Text.assemble((f"{choice.key}  ", "bold"), choice.label, "\n   ",
                             (f"✗ not applicable: {choice.reason}", "italic"))
    if choice.recommended:  # a glyph and a word, not colour alone
        return Text.assemble((f"{choice.key}  ", "bold"), (choice.label, "bold"), ("  ★ recommended", "bold"))
    return Text.assemble((f"{choice.key}  ", "bold"), choice.label)


def choice_sql(choice: Choice, dark: bool) -> RenderableType:
    if choice.action is None:
        return Text(f"{choice.label}\n✗ not applicable: {choice.reason}")
    a = choice.action
    why = [Text(f"★ recommended because {choice.evidence}", style="italic")] if choice.recommended else []
    return Group(Text(f"{a.title} on {a.database} will run exactly:", style="bold"), sql_text(a.sql, dark),
                 Text(f"Enter or {choice.key}: confirm by typing {a.confirm}.  From a shell: {cli_twin(choice)}",
                      style="dim"), *why)
