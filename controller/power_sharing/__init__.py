"""Dynamic power sharing (issue #18): the allocator that decides which module group serves which output, and
the move sequence that switches a group between outputs without switching under load."""
