"""What the cluster tests share besides fixtures."""
import time

# The app nodes of scripts/cluster.sh and the name each sends as X-Kim-Node.
NODES = {"node-a": "kim-a", "node-b": "kim-b"}


def wait_until(condition, what: str, tries: int = 150, pause: float = 0.2):
    """Poll `condition()` until it is true (a count of tries, not a timing assertion)."""
    for _ in range(tries):
        value = condition()
        if value:
            return value
        time.sleep(pause)
    raise AssertionError(f"{what}: not after {tries} tries")
