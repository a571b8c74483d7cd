import sys

from mlpstudy.cli import main

sys.exit(main())
