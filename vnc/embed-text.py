#!/usr/bin/env python3
"""Writes a C header that defines NAME as the text of a file, one string
literal per line: the build embeds websockify-main.py this way.

Usage: embed-text.py INPUT OUTPUT NAME
"""
import sys


def c_literal(line):
    out = []
    for ch in line:
        if ch in '\\"':
            out.append('\\' + ch)
        elif ch == '?':
            out.append('\\077')  # no "??(" trigraph, whatever the C standard
        elif ch == '\n':
            out.append('\\n')
        elif ' ' <= ch <= '~':
            out.append(ch)
        else:
            # Octal, three digits: a following digit cannot extend it.
            out.extend(f'\\{b:03o}' for b in ch.encode())
    return '"' + ''.join(out) + '"'


def main(argv):
    if len(argv) != 4:
        sys.exit(__doc__.strip().splitlines()[-1])
    src, dst, name = argv[1:]
    with open(src, encoding='utf-8', newline='') as f:  # a CR stays a CR
        lines = f.read().splitlines(keepends=True)
    body = ' \\\n        '.join(c_literal(line) for line in lines) or '""'
    with open(dst, 'w', encoding='utf-8') as f:
        f.write(f'/* Generated from {src.rsplit("/", 1)[-1]} by embed-text.py. */\n'
                f'#pragma once\n\n#define {name} \\\n        {body}\n')


if __name__ == '__main__':
    main(sys.argv)
