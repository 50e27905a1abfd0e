"""Pure logic: data in, data out. No sockets, no database, no clock it was not given."""
