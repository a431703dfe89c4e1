//! `storage-e2e-csi`: the driver's entry point. Exit codes: 0 after
//! SIGTERM, 1 when serving fails or the kubelet refuses the registration,
//! 2 for a command line or environment it cannot start with.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;

use storage_e2e_csi::cli::{self, Command};
use storage_e2e_csi::rpc::log;
use storage_e2e_csi::san::San;
use storage_e2e_csi::server::{self, Stopped};
use storage_e2e_csi::{CSI_SPEC_VERSION, KUBELET_API_VERSION, VENDOR_VERSION, selftest};

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("storage-e2e-csi: {e}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("storage-e2e-csi: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match command {
        Command::Help => {
            println!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Command::Version => {
            println!(
                "storage-e2e-csi {VENDOR_VERSION} (CSI spec {CSI_SPEC_VERSION}, k8s.io/kubelet {KUBELET_API_VERSION} plugin registration)"
            );
            ExitCode::SUCCESS
        }
        Command::Selftest(config) => match runtime.block_on(selftest::run(&config)) {
            Ok(summary) => {
                println!("{summary}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("selftest: failed: {}", e.chain());
                ExitCode::FAILURE
            }
        },
        Command::Serve(config) => {
            let san = match San::open(&config.san) {
                Ok(s) => Arc::new(s),
                Err(e) => {
                    eprintln!(
                        "storage-e2e-csi: --san {}: {}: mount the SAN directory there (every node must see the same directory at the same path)",
                        config.san.display(),
                        e.chain()
                    );
                    return ExitCode::from(2);
                }
            };
            match runtime.block_on(server::serve(config, san)) {
                Ok(Stopped::Signal) => {
                    log("stopped by signal");
                    ExitCode::SUCCESS
                }
                Ok(Stopped::RegistrationRefused(error)) => {
                    log(format_args!(
                        "the kubelet refused the registration: {error}; exiting"
                    ));
                    ExitCode::FAILURE
                }
                Err(e) => {
                    log(format_args!("serving failed: {}", e.chain()));
                    ExitCode::FAILURE
                }
            }
        }
    }
}
