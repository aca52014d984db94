/* The version of retool and of the file formats it writes. */
#ifndef RETOOL_BASE_VERSION_H
#define RETOOL_BASE_VERSION_H

#define RETOOL_VERSION "0.1.0"

#endif
