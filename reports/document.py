"""A report as a list of blocks, rendered to Markdown (images as files) or self-contained HTML."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Document:
    title: str
    blocks: list[tuple[Any, ...]] = field(default_factory=list)

    def heading(self, text: str) -> None:
        self.blocks.append(("heading", text))

    def text(self, text: str) -> None:
        self.blocks.append(("text", text))

    def table(self, columns: list[str], rows: list[list[object]]) -> None:
        self.blocks.append(("table", columns, rows))

    def image(self, name: str, png: bytes | None, caption: str) -> None:
        if png:
            self.blocks.append(("image", name, png, caption))

    def markdown(self, image_dir: Path) -> str:
        """Markdown; images are written into image_dir and linked relatively."""
        image_dir.mkdir(parents=True, exist_ok=True)
        out = [f"# {self.title}", ""]
        for block in self.blocks:
            kind = block[0]
            if kind == "heading":
                out += [f"## {block[1]}", ""]
            elif kind == "text":
                out += [block[1], ""]
            elif kind == "table":
                out += [_md_table(block[1], block[2]), ""]
            else:
                _, name, png, caption = block
                (image_dir / f"{name}.png").write_bytes(png)
                out += [f"![{caption}]({image_dir.name}/{name}.png)", ""]
        return "\n".join(out)

    def html(self) -> str:
        """One self-contained page: images inline as data URIs, no scripts, no external resources."""
        body = []
        for block in self.blocks:
            kind = block[0]
            if kind == "heading":
                body.append(f"<h2>{html.escape(block[1])}</h2>")
            elif kind == "text":
                body.append(f"<p>{html.escape(block[1])}</p>")
            elif kind == "table":
                body.append(_html_table(block[1], block[2]))
            else:
                _, name, png, caption = block
                data = base64.b64encode(png).decode()
                body.append(
                    f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                    f"<figcaption>{html.escape(caption)}</figcaption></figure>"
                )
        return (
            f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
            f"<style>{_CSS}</style></head><body><h1>{html.escape(self.title)}</h1>{''.join(body)}</body></html>"
        )


_CSS = (
    "body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0;font-size:13px}"
    "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#eee}"
    "img{max-width:100%}figcaption{font-size:12px;color:#555}.wide{overflow-x:auto}"
)


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _md_table(columns: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v).replace("|", "/") for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _html_table(columns: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(v))}</td>" for v in row) + "</tr>" for row in rows)
    return f"<div class='wide'><table><tr>{head}</tr>{body}</table></div>"
