import sys

from deepfake_lth.cli import main

sys.exit(main())
