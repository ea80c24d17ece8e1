# Copied from https://github.com/fossasia/visdom/blob/79c0360264eef8b784ea43a34d482efe124411db/example/components/__init__.py
# (fossasia/visdom at commit 79c0360264eef8b784ea43a34d482efe124411db), licensed under the Apache License 2.0: see LICENSE in this directory.
# Unchanged apart from this header.
