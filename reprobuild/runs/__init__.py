"""Run records: a command run in the recorded image (by digest) tied to commit, data and
seed; reruns that check the tuple; OpenLineage events for each run."""
