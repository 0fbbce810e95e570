"""The Docker Engine API (`berth serve`): HTTP/1.1 on h11, a thread per connection, over the
same store the CLI uses. Routes speak Docker's documents through the engine's facades and
reports; nothing here touches the store directly.
"""
