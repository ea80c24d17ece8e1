import sys

from livepanel.cli import main

sys.exit(main())
