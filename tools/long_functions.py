#!/usr/bin/env python3
"""Functions longer than N lines (default 80) in C++ files: a brace-counting scan. A function body is a '{'
whose preceding text ends in ')' (optionally const/noexcept/override/-> type/: initialisers) and does not
belong to if/for/while/switch/catch; its length is the lines from the signature's first line to the
closing '}'. Comments and string literals are blanked first."""
import re, sys

def strip(src):
    out = re.sub(r'//[^\n]*|/\*.*?\*/', lambda m: re.sub(r'[^\n]', ' ', m.group()), src, flags=re.S)
    out = re.sub(r'R"\((.*?)\)"', lambda m: re.sub(r'[^\n]', ' ', m.group()), out, flags=re.S)
    out = re.sub(r'"(\\.|[^"\\\n])*"', lambda m: ' ' * len(m.group()), out)
    out = re.sub(r"'(\\.|[^'\\\n])*'", lambda m: ' ' * len(m.group()), out)
    return out

def scan(path, limit):
    src = strip(open(path).read())
    stack = []
    last_stmt_end = 0
    for i, c in enumerate(src):
        if c == '{':
            head = src[last_stmt_end:i]
            h = head.strip()
            is_fn = bool(re.search(r'\)\s*(const)?\s*(noexcept)?\s*(override)?\s*(->\s*[\w:<>,\s\*&]+)?\s*$', h)) or \
                    bool(re.search(r'\)\s*:\s*[\w:]+[({]', h))
            if re.match(r'^(if|for|while|switch|catch|else\s+if)\b', h.split('\n')[-1].strip()) or \
               re.search(r'\b(if|for|while|switch|catch)\s*\([^;]*\)\s*$', h) and not re.search(r'\)\s*(const|noexcept|override)\s*$', h):
                is_fn = False
            first = head.lstrip('\n ')
            start = i - len(head) + (len(head) - len(first))
            stack.append((is_fn, start, h.split('(')[0].split()[-1] if '(' in h and h.split('(')[0].split() else '?'))
            last_stmt_end = i + 1
        elif c == '}':
            if stack:
                is_fn, start, name = stack.pop()
                if is_fn:
                    lines = src.count('\n', start, i) + 1
                    if lines > limit:
                        print(f"{path}:{src.count(chr(10), 0, start) + 1}: {name}: {lines} lines")
            last_stmt_end = i + 1
        elif c == ';':
            last_stmt_end = i + 1

limit = 80
args = sys.argv[1:]
if args and args[0].startswith('--limit='):
    limit = int(args[0].split('=')[1]); args = args[1:]
for p in args:
    scan(p, limit)
