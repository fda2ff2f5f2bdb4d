import sys

from aircall_assets.bench.runner import main

sys.exit(main())
