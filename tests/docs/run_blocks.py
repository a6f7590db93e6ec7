#!/usr/bin/env python3
"""Runs every fenced `sh` block of one Markdown page, so that the commands the README and
docs/ show cannot rot. A block whose first line starts with `# not run` is skipped (servers
that run until stopped, machine-specific paths). The blocks of a page run in order, each with
`bash -euo pipefail`, in one fresh folder that looks like the project's (scenarios/, profiles/,
scripts/ and build/ are links), so a block may use what an earlier one wrote, and results and
pictures land there and not in the tree.

Links to other pages, pictures and headings (`[text](page.md#heading)`) are checked too.

usage: run_blocks.py PAGE.md SOURCE_DIR BUILD_DIR
"""
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile

FENCE = re.compile(r"^```sh[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
BLOCK_TIMEOUT_S = 300
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#+ (.*)$", re.M)


def blocks(text):
    for match in FENCE.finditer(text):
        yield text.count("\n", 0, match.start()) + 1, match.group(1)


def anchor(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@functools.cache
def anchors(file):
    """The anchors of a page's headings (headings inside sh blocks are comments, not headings)."""
    with open(file, encoding="utf-8") as f:
        return {anchor(h) for h in HEADING.findall(FENCE.sub("", f.read()))}


def broken_links(page, text):
    """The links of the page whose file or heading does not exist."""
    text = FENCE.sub("", text)
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # another site
        path, _, fragment = target.partition("#")
        file = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if not os.path.exists(file):
            yield f"{target}: no file {file}"
        elif fragment and fragment not in anchors(file):
            yield f"{target}: no heading #{fragment} in {file}"


def workspace(source, build):
    folder = tempfile.mkdtemp(prefix="mqlab-docs-")
    for name in ("scenarios", "profiles", "scripts", "tests", "bench"):
        os.symlink(os.path.join(source, name), os.path.join(folder, name))
    os.symlink(build, os.path.join(folder, "build"))
    os.makedirs(os.path.join(folder, "docs", "img"))
    return folder


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    page, source, build = sys.argv[1:]
    with open(page, encoding="utf-8") as f:
        text = f.read()
    failed, ran = 0, 0
    for link in broken_links(page, text):
        print(f"{page}: broken link {link}")
        failed += 1
    folder = workspace(source, build)
    for line, body in blocks(text):
        if body.lstrip().startswith("# not run"):
            print(f"{page}:{line}: skipped (# not run)")
            continue
        ran += 1
        try:
            done = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=folder, capture_output=True,
                                  text=True, timeout=BLOCK_TIMEOUT_S, env=dict(os.environ, QT_QPA_PLATFORM="offscreen",
                                           XDG_STATE_HOME=os.path.join(folder, "state")))
            ok, output = done.returncode == 0, done.stdout + done.stderr
            why = f"exit {done.returncode}"
        except subprocess.TimeoutExpired as e:
            # The partial output comes as bytes even with text=True.
            partial = (e.stdout or b"") + (e.stderr or b"")
            ok, output, why = False, partial.decode(errors="replace"), f"still running after {BLOCK_TIMEOUT_S} s"
        print(f"{page}:{line}: {'ok' if ok else 'FAILED: ' + why}")
        if not ok:
            failed += 1
            print(body + "----\n" + output[-4000:])
    print(f"{ran} block(s) run, {failed} failed")
    if failed:
        print(f"what they wrote is in {folder}")
        sys.exit(1)
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
