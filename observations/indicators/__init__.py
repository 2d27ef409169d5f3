"""Pure indicator functions over plain data (no ORM import). Filled by a later issue."""
