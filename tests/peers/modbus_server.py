#!/usr/bin/env python3
"""A Modbus TCP server that is not the project's: Debian's pymodbus, holding registers only, every write
appended to a log file (one line per write request: function code, 0-based address, values) before it is applied.

Usage: modbus_server.py PORT LOG [ADDRESS=VALUE ...]
The tests start it on a loopback port, write through the twin, and read the log and the registers back.
"""
import sys

from pymodbus.datastore import ModbusSequentialDataBlock, ModbusServerContext, ModbusSlaveContext
from pymodbus.server import StartTcpServer


class LoggingContext(ModbusSlaveContext):
    def __init__(self, log_path, **kwargs):
        super().__init__(**kwargs)
        self.log_path = log_path

    def setValues(self, fc_as_hex, address, values):  # noqa: N802 (pymodbus's name)
        with open(self.log_path, "a", encoding="utf-8") as log:
            log.write(f"write fc={fc_as_hex} address={address} values={list(values)}\n")
        super().setValues(fc_as_hex, address, values)


def main():
    port, log_path = int(sys.argv[1]), sys.argv[2]
    open(log_path, "w", encoding="utf-8").close()
    registers = [0] * 200
    for arg in sys.argv[3:]:
        address, value = arg.split("=")
        registers[int(address)] = int(value)
    store = LoggingContext(log_path, hr=ModbusSequentialDataBlock(0, registers), zero_mode=True)
    context = ModbusServerContext(slaves=store, single=True)
    StartTcpServer(context=context, address=("127.0.0.1", port))


if __name__ == "__main__":
    main()
