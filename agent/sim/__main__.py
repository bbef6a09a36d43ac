import sys

from agent.sim.main import main

sys.exit(main())
