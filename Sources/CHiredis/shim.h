#pragma once
#include <hiredis/hiredis.h>
#include <sys/socket.h>
