"""The web dashboard: the plan's verdict, snapshots to browse, buttons for the nightly jobs."""
