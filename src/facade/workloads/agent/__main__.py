"""`python -m facade.workloads.agent --config FILE`: the agent's process (see `loop.main`)."""

from facade.workloads.agent.loop import main

if __name__ == "__main__":
    main()
