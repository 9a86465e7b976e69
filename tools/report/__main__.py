import sys

from tools.report.documents import main

sys.exit(main())
