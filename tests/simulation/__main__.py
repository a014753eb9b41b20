import sys

from tests.simulation.sim import main

sys.exit(main())
