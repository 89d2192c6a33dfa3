"""A scenario run: each deployment's lifecycle (prepared, started, failed), its capacity check against
the planner, its levels, the dry run, and the environment the run folder records."""
